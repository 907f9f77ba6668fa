/**
 * Owns the "Perhaps you meant" suggestions: a fuzzy set match (cosine of
 * character n-grams, rescored by Levenshtein distance) like the fuzzyset
 * library PostgREST uses.
 *
 * Pure.
 *
 * @module
 */

function grams(value: string, size: number): Map<string, number> {
  const padded = `-${value.toLowerCase()}-`;
  const out = new Map<string, number>();
  const chars = Array.from(padded);
  for (let i = 0; i + size <= chars.length; i++) {
    const g = chars.slice(i, i + size).join("");
    out.set(g, (out.get(g) ?? 0) + 1);
  }
  return out;
}

function norm(v: Map<string, number>): number {
  let s = 0;
  for (const n of v.values()) s += n * n;
  return Math.sqrt(s);
}

/** Levenshtein distance between two strings. */
export function levenshtein(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      cur.push(
        Math.min(
          (prev[j] ?? 0) + 1,
          (cur[j - 1] ?? 0) + 1,
          (prev[j - 1] ?? 0) + cost,
        ),
      );
    }
    prev = cur;
  }
  return prev[y.length] ?? 0;
}

/** The closest candidate to `value`, or null when none is close enough. */
export function closestMatch(
  value: string,
  candidates: readonly string[],
  minScore = 0.75,
): string | null {
  if (candidates.includes(value)) return value;
  for (let size = 3; size >= 2; size--) {
    const g = grams(value, size);
    const gn = norm(g);
    const scored: [number, string][] = [];
    for (const c of candidates) {
      const cg = grams(c, size);
      let dot = 0;
      for (const [k, n] of g) dot += n * (cg.get(k) ?? 0);
      if (dot > 0) scored.push([dot / (gn * norm(cg)), c]);
    }
    if (scored.length === 0) continue;
    scored.sort((a, b) => b[0] - a[0]);
    const rescored = scored.slice(0, 50).map(([, c]): [number, string] => [
      1 - levenshtein(c.toLowerCase(), value.toLowerCase()) /
        Math.max(Array.from(c).length, Array.from(value).length),
      c,
    ]);
    rescored.sort((a, b) => b[0] - a[0]);
    const best = rescored[0];
    if (best !== undefined && best[0] >= minScore) return best[1];
    return null;
  }
  return null;
}
