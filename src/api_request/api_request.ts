/**
 * Owns turning a raw HTTP request into an `ApiRequest`: the target from the
 * path, the schema from the profile headers, the query string, the
 * `Prefer` header, the top-level range (`limit`/`offset` and `Range`) and
 * the Accept list.
 *
 * Pure: takes the already-read body and the configuration.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import {
  invalidPath,
  invalidPreferences,
  invalidRange,
  invalidSchema,
  unsupportedMethod,
} from "../error.ts";
import { parseAccept } from "./media_type.ts";
import { parsePreferences } from "./preferences.ts";
import { parseQueryParams, searchParams } from "./query_params.ts";
import type { ApiRequest, Method, RangeSpec, Target } from "./types.ts";

/** What the handler knows about the request before parsing. */
export interface RawRequest {
  readonly method: string;
  /** The path, still percent-encoded. */
  readonly path: string;
  /** The query string without `?`, still percent-encoded. */
  readonly search: string;
  /** The request's headers (names are matched case-insensitively). */
  readonly headers: Pick<Headers, "get">;
  readonly body: Uint8Array | null;
}

const METHODS: readonly Method[] = [
  "GET",
  "HEAD",
  "POST",
  "PATCH",
  "PUT",
  "DELETE",
  "OPTIONS",
];

function decodeSegment(s: string): string {
  // without an escape, decoding changes nothing (and cannot fail)
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    throw invalidPath();
  }
}

/** Parses the path into a target. */
export function parseTarget(path: string): Target {
  const segs = path.split("/").filter((s) => s !== "").map(decodeSegment);
  if (segs.length === 0) return { kind: "root" };
  if (segs.length === 1) return { kind: "relation", name: segs[0] ?? "" };
  if (segs.length === 2 && segs[0] === "rpc") {
    return { kind: "routine", name: segs[1] ?? "" };
  }
  throw invalidPath();
}

/**
 * Parses a `Range: items=a-b` header.
 * @throws {PgrstError} PGRST103 when the lower bound exceeds the upper
 */
export function parseRangeHeader(value: string | null): RangeSpec | null {
  if (value === null) return null;
  const m = /^\s*(?:[a-zA-Z]+=)?\s*(\d+)\s*-\s*(\d*)\s*$/.exec(value);
  if (!m) return null;
  const lower = Number(m[1]);
  if (m[2] === "" || m[2] === undefined) return { offset: lower, limit: null };
  const upper = Number(m[2]);
  if (lower > upper) {
    throw invalidRange(
      "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
    );
  }
  return { offset: lower, limit: upper - lower + 1 };
}

/** The path and its query parameters sorted by name, as PostgREST does. */
export function canonicalLocation(path: string, search: string): string {
  // one parameter (or none) is sorted already
  if (!search.includes("&")) return search === "" ? path : `${path}?${search}`;
  const parts = search.split("&").filter((p) => p !== "");
  if (parts.length === 0) return path;
  const key = (p: string) => {
    const i = p.indexOf("=");
    return i < 0 ? p : p.slice(0, i);
  };
  const sorted = parts.map((p, i) => ({ p, i })).sort((a, b) =>
    key(a.p) < key(b.p) ? -1 : key(a.p) > key(b.p) ? 1 : a.i - b.i
  ).map((x) => x.p);
  return `${path}?${sorted.join("&")}`;
}

/** Intersects two ranges. */
export function intersectRanges(a: RangeSpec, b: RangeSpec): RangeSpec {
  const offset = Math.max(a.offset, b.offset);
  const ends = [a, b].flatMap((r) =>
    r.limit === null ? [] : [r.offset + r.limit]
  );
  if (ends.length === 0) return { offset, limit: null };
  return { offset, limit: Math.max(0, Math.min(...ends) - offset) };
}

/** Picks the schema from the profile headers. */
export function pickSchema(
  method: Method,
  headers: Pick<Headers, "get">,
  schemas: readonly string[],
): { schema: string; profileGiven: boolean } {
  const header = method === "GET" || method === "HEAD"
    ? headers.get("accept-profile")
    : headers.get("content-profile");
  const first = schemas[0] ?? "public";
  if (header === null) {
    return { schema: first, profileGiven: schemas.length > 1 };
  }
  if (!schemas.includes(header)) throw invalidSchema(header, schemas);
  return { schema: header, profileGiven: schemas.length > 1 };
}

/**
 * Parses a request.
 * @throws {PgrstError} PGRST100, PGRST103, PGRST106, PGRST117, PGRST122, PGRST125
 */
export function parseApiRequest(raw: RawRequest, config: Config): ApiRequest {
  const method = METHODS.find((m) => m === raw.method.toUpperCase());
  if (method === undefined) throw unsupportedMethod(raw.method);
  const target = parseTarget(raw.path);
  const { schema, profileGiven } = pickSchema(
    method,
    raw.headers,
    config.dbSchemas,
  );
  const params = parseQueryParams(searchParams(raw.search), {
    isRpc: target.kind === "routine" && (method === "GET" || method === "HEAD"),
  });
  // several Prefer headers come joined with ", ", which the parser splits
  const prefer = raw.headers.get("prefer");
  const prefs = parsePreferences(prefer === null ? [] : [prefer]);
  if (prefs.handling === "strict" && prefs.invalid.length > 0) {
    throw invalidPreferences(prefs.invalid);
  }
  const given = params.ranges.get("") ?? { offset: 0, limit: null };
  // a negative offset is a no-op, as in PostgREST
  const queryRange = { offset: Math.max(0, given.offset), limit: given.limit };
  if (queryRange.limit !== null && queryRange.limit < 0) {
    throw invalidRange("Limit should be greater than or equal to zero.");
  }
  // the Range header applies to GET only, as in PostgREST
  const headerRange = method === "GET"
    ? parseRangeHeader(raw.headers.get("range"))
    : null;
  const range = headerRange === null
    ? queryRange
    : intersectRanges(queryRange, headerRange);
  return {
    method,
    target,
    schema,
    profileGiven,
    params,
    prefs,
    range,
    accept: parseAccept(raw.headers.get("accept")),
    body: raw.body,
    contentType: raw.headers.get("content-type") ?? "application/json",
    canonical: canonicalLocation(raw.path, raw.search),
  };
}
