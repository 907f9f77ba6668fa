/**
 * Owns media types as pgrest reads them: the base of a media type (type and
 * subtype without parameters, lower case), how a request body is read by
 * its `Content-Type`, and parsing the `Accept` header into media types
 * ordered by preference (q-values, then order of appearance), with
 * parameters kept.
 *
 * Pure.
 *
 * @module
 */

/**
 * The media type without its parameters, trimmed and in lower case:
 * `Text/CSV; charset=utf-8` is `text/csv`. Media types are matched
 * case-insensitively, as PostgREST does since 12.2.
 */
export function mediaTypeBase(mediaType: string): string {
  const semi = mediaType.indexOf(";");
  return (semi < 0 ? mediaType : mediaType.slice(0, semi)).trim()
    .toLowerCase();
}

/**
 * How a request body is read: JSON, CSV (a header line, then rows), a form
 * (`application/x-www-form-urlencoded`), or one raw value for a function's
 * single unnamed `text`, `xml` or `bytea` parameter.
 */
export type BodyMedia = "json" | "csv" | "form" | "text" | "xml" | "bytea";

const BODY_MEDIA: ReadonlyMap<string, BodyMedia> = new Map([
  // an empty Content-Type is read as JSON, as an absent one is
  ["", "json"],
  ["application/json", "json"],
  ["application/vnd.pgrst.object+json", "json"],
  ["application/vnd.pgrst.object", "json"],
  ["application/vnd.pgrst.array+json", "json"],
  ["text/csv", "csv"],
  ["application/x-www-form-urlencoded", "form"],
  ["text/plain", "text"],
  ["text/xml", "xml"],
  ["application/octet-stream", "bytea"],
]);

/**
 * How a body with this `Content-Type` is read, or null when pgrest reads
 * no body of that media type (PostgREST's "Content-Type not acceptable").
 * The raw kinds (`text`, `xml`, `bytea`) are for function calls only.
 */
export function bodyMedia(contentType: string): BodyMedia | null {
  return BODY_MEDIA.get(mediaTypeBase(contentType)) ?? null;
}

/** Media types of an Accept header, best first; `*\/*` when absent. */
export function parseAccept(header: string | null): string[] {
  if (header === null || header.trim() === "") return ["*/*"];
  const items = header.split(",").map((part, i) => {
    const [, ...params] = part.split(";").map((s) => s.trim());
    let q = 1;
    const kept: string[] = [];
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (m) q = Number(m[1]);
      else if (p !== "") kept.push(p.replace(/\s*=\s*/, "="));
    }
    return {
      value: [mediaTypeBase(part), ...kept].join(";"),
      q,
      i,
    };
  }).filter((x) => x.value !== "" && x.q > 0);
  items.sort((a, b) => b.q - a.q || a.i - b.i);
  return items.map((x) => x.value);
}
