/**
 * Owns the `Prefer` header: every preference PostgREST understands, the
 * tokens it does not (for `handling=strict`), and the `Preference-Applied`
 * value echoed back. Preferences PostgREST has removed, such as
 * `params=single-object` (gone in 13.0), are not understood.
 *
 * Pure.
 *
 * @module
 */

import type { Preferences } from "./types.ts";

function pick<T extends string>(v: string, allowed: readonly T[]): T | null {
  return allowed.find((a) => a === v) ?? null;
}

/** Parses all `Prefer` header values (already split per header). */
export function parsePreferences(values: readonly string[]): Preferences {
  let count: Preferences["count"] = null;
  let ret: Preferences["return"] = null;
  let resolution: Preferences["resolution"] = null;
  let missing: Preferences["missing"] = null;
  let handling: Preferences["handling"] = null;
  let tx: Preferences["tx"] = null;
  let timezone: string | null = null;
  let maxAffected: number | null = null;
  const invalid: string[] = [];
  for (const header of values) {
    for (const raw of header.split(",")) {
      const token = raw.trim();
      if (token === "") continue;
      const eq = token.indexOf("=");
      const key = eq < 0 ? token : token.slice(0, eq).trim();
      const val = eq < 0 ? "" : token.slice(eq + 1).trim();
      let ok = false;
      switch (key) {
        case "count": {
          const v = pick(val, ["exact", "planned", "estimated"] as const);
          if (v !== null && count === null) count = v;
          ok = v !== null;
          break;
        }
        case "return": {
          const v = pick(
            val,
            ["minimal", "headers-only", "representation"] as const,
          );
          if (v !== null && ret === null) ret = v;
          ok = v !== null;
          break;
        }
        case "resolution": {
          const v = pick(
            val,
            ["merge-duplicates", "ignore-duplicates"] as const,
          );
          if (v !== null && resolution === null) resolution = v;
          ok = v !== null;
          break;
        }
        case "missing": {
          const v = pick(val, ["default", "null"] as const);
          if (v !== null && missing === null) missing = v;
          ok = v !== null;
          break;
        }
        case "handling": {
          const v = pick(val, ["strict", "lenient"] as const);
          if (v !== null && handling === null) handling = v;
          ok = v !== null;
          break;
        }
        case "tx": {
          const v = pick(val, ["commit", "rollback"] as const);
          if (v !== null && tx === null) tx = v;
          ok = v !== null;
          break;
        }
        case "timezone":
          if (val !== "" && timezone === null) timezone = val;
          ok = val !== "";
          break;
        case "max-affected":
          if (/^\d+$/.test(val)) {
            if (maxAffected === null) maxAffected = Number(val);
            ok = true;
          }
          break;
      }
      if (!ok) invalid.push(token);
    }
  }
  return {
    count,
    return: ret,
    resolution,
    missing,
    handling,
    tx,
    timezone,
    maxAffected,
    invalid,
  };
}
