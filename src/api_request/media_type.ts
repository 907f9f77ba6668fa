/**
 * Owns parsing the `Accept` header into media types ordered by preference
 * (q-values, then order of appearance), with parameters kept.
 *
 * Pure.
 *
 * @module
 */

/** Media types of an Accept header, best first; `*\/*` when absent. */
export function parseAccept(header: string | null): string[] {
  if (header === null || header.trim() === "") return ["*/*"];
  const items = header.split(",").map((part, i) => {
    const [type = "", ...params] = part.split(";").map((s) => s.trim());
    let q = 1;
    const kept: string[] = [];
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (m) q = Number(m[1]);
      else if (p !== "") kept.push(p.replace(/\s*=\s*/, "="));
    }
    return {
      value: [type.toLowerCase(), ...kept].join(";"),
      q,
      i,
    };
  }).filter((x) => x.value !== "" && x.q > 0);
  items.sort((a, b) => b.q - a.q || a.i - b.i);
  return items.map((x) => x.value);
}
