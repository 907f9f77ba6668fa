/**
 * Owns the request body of writes: JSON objects and arrays, `text/csv` and
 * `application/x-www-form-urlencoded`, turned into the set of keys and one
 * JSON array text that is bound as a single parameter.
 *
 * Pure. Failures are PGRST102.
 *
 * @module
 */

import { invalidBody } from "../error.ts";
import { bodyMedia, mediaTypeBase } from "./media_type.ts";

/** A parsed write body. */
export interface Payload {
  /** The keys of the rows (those of the first row; all rows share them). */
  readonly keys: readonly string[];
  /** The rows as a JSON array text. */
  readonly json: string;
  /** How many rows. */
  readonly rows: number;
  /** Whether the body was a single object (not an array). */
  readonly single: boolean;
  /**
   * The first row (the object itself for a single object), null when there
   * is none: a function call's arguments.
   */
  readonly first: Readonly<Record<string, unknown>> | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Whether two objects' key lists hold the same keys. Rows written by one
 * program list their keys in the same order, so that is tried first; a Set
 * only when the order differs.
 */
function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  if (i === a.length) return true;
  const s = new Set(a);
  return b.every((k) => s.has(k));
}

/** Parses a JSON body. */
export function parseJsonPayload(text: string, checkKeys: boolean): Payload {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw invalidBody("Empty or invalid json");
  }
  if (isObject(v)) {
    return {
      keys: Object.keys(v),
      json: `[${text}]`,
      rows: 1,
      single: true,
      first: v,
    };
  }
  if (!Array.isArray(v)) throw invalidBody("Empty or invalid json");
  const first: unknown = v[0];
  if (first === undefined) {
    return { keys: [], json: "[]", rows: 0, single: false, first: null };
  }
  if (!isObject(first)) throw invalidBody("All object keys must match");
  const keys = Object.keys(first);
  for (const row of v) {
    if (!isObject(row)) throw invalidBody("All object keys must match");
    if (checkKeys && !sameKeys(keys, Object.keys(row))) {
      throw invalidBody("All object keys must match");
    }
  }
  return { keys, json: text, rows: v.length, single: false, first };
}

/** Splits CSV text into records (RFC 4180 quoting). */
export function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? "";
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += c;
      }
      i++;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      out.push(row);
      row = [];
      field = "";
    } else field += c;
    i++;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    out.push(row);
  }
  return out;
}

/** Parses a CSV body: a header line, then rows; `NULL` is null. */
export function parseCsvPayload(text: string): Payload {
  const records = parseCsv(text);
  const header = records[0];
  if (header === undefined) {
    return { keys: [], json: "[]", rows: 0, single: false, first: null };
  }
  const rows = records.slice(1).map((r) => {
    if (r.length !== header.length) {
      throw invalidBody("All lines must have same number of fields");
    }
    const o: Record<string, string | null> = {};
    header.forEach((k, i) => {
      const v = r[i] ?? "";
      o[k] = v === "NULL" ? null : v;
    });
    return o;
  });
  return {
    keys: header,
    json: JSON.stringify(rows),
    rows: rows.length,
    single: false,
    first: rows[0] ?? null,
  };
}

/** Parses a form body into one row. */
export function parseFormPayload(text: string): Payload {
  const o: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(text)) o[k] = v;
  return {
    keys: Object.keys(o),
    json: `[${JSON.stringify(o)}]`,
    rows: 1,
    single: true,
    first: o,
  };
}

/** Whether a write with this Content-Type carries a JSON body. */
export function isJsonBody(contentType: string): boolean {
  return bodyMedia(contentType) === "json";
}

/**
 * Parses a JSON write body from its bytes (UTF-8; an empty or blank body is
 * invalid).
 * @throws {PgrstError} PGRST102
 */
export function parseJsonBody(
  body: Uint8Array | null,
  checkKeys: boolean,
): Payload {
  const text = decode(body);
  if (text.trim() === "") throw invalidBody("Empty or invalid json");
  return parseJsonPayload(text, checkKeys);
}

/**
 * Parses a write body by its Content-Type.
 * @param checkKeys whether all rows must have the same keys (not with
 *   `?columns=`)
 * @throws {PgrstError} PGRST102: an invalid body, or a media type a table
 *   write does not read (400, as PostgREST's Payload.hs)
 */
export function parsePayload(
  body: Uint8Array | null,
  contentType: string,
  checkKeys: boolean,
): Payload {
  const media = bodyMedia(contentType);
  switch (media) {
    case "json":
      return parseJsonBody(body, checkKeys);
    case "csv":
      return parseCsvPayload(decode(body));
    case "form":
      return parseFormPayload(decode(body));
    case "text":
    case "xml":
    case "bytea":
    case null:
      throw invalidBody(
        `Content-Type not acceptable: ${mediaTypeBase(contentType)}`,
      );
  }
}

const UTF8 = new TextDecoder();

/** A body's text (UTF-8, invalid bytes replaced). */
export function decode(body: Uint8Array | null): string {
  return body === null ? "" : UTF8.decode(body);
}
