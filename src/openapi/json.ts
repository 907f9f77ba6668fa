/**
 * Owns the JSON value types the OpenAPI documents are built from, and
 * `compact`, which drops absent (`undefined`) members the way PostgREST's
 * swagger encoder omits `Nothing` fields.
 *
 * Pure.
 *
 * @module
 */

/** A JSON value. */
export type Json =
  | null
  | boolean
  | number
  | string
  | readonly Json[]
  | JsonObject;

/** A JSON object. */
export interface JsonObject {
  readonly [key: string]: Json;
}

/** An object whose `undefined` members are to be left out. */
export interface PartialJsonObject {
  readonly [key: string]: Json | undefined;
}

/** Copies `o` without its `undefined` members, keeping key order. */
export function compact(o: PartialJsonObject): JsonObject {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Whether a JSON value is an object (not an array, not null). */
export function isJsonObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const encoder = new TextEncoder();

/** Characters a URI fragment may hold as they are (RFC 3986). */
const FRAGMENT_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?]$/;

function encodeFragment(s: string): string {
  let out = "";
  for (const ch of s) {
    if (FRAGMENT_SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of encoder.encode(ch)) {
      out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return out;
}

/**
 * A `$ref` to a member of the document: a JSON Pointer (`~` → `~0`,
 * `/` → `~1`) in a URI fragment (other unsafe characters percent-encoded).
 * Plain names stay as they are: `#/definitions/items`.
 */
export function pointerRef(path: readonly string[]): string {
  return `#${
    path.map((p) =>
      `/${encodeFragment(p.replaceAll("~", "~0").replaceAll("/", "~1"))}`
    ).join("")
  }`;
}

/** The path of a `$ref` made by `pointerRef`, or null for other refs. */
export function parsePointerRef(ref: string): string[] | null {
  if (!ref.startsWith("#/")) return null;
  try {
    return ref.slice(2).split("/").map((p) =>
      decodeURIComponent(p).replaceAll("~1", "/").replaceAll("~0", "~")
    );
  } catch {
    return null;
  }
}
