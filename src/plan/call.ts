/**
 * Owns planning `/rpc/<function>` calls: the arguments from the JSON, form
 * or raw body (POST) or the query string (GET), overload resolution by the
 * argument names given (and the single unnamed json/jsonb, text, xml or
 * bytea parameter), variadic and repeated parameters, and PostgREST's
 * PGRST202/PGRST203 errors with their hints.
 *
 * Pure.
 *
 * @module
 */

import { parseCsv } from "../api_request/payload.ts";
import type { ApiRequest } from "../api_request/types.ts";
import { invalidBody, PgrstError } from "../error.ts";
import {
  canUseRoutine,
  findTable,
  qualifiedKey,
  type Routine,
  type RoutineParam,
  type SchemaCache,
  type Table,
} from "../schema_cache/types.ts";
import { arrayLiteral } from "../query/sql.ts";
import { closestMatch } from "./fuzzy.ts";
import type { CallSource } from "./plan.ts";

/** A query-string value that is a filter rather than an argument. */
const FILTER_VALUE =
  /^(not\.)?(eq|neq|gt|gte|lt|lte|like|ilike|match|imatch|in|is|isdistinct|fts|plfts|phfts|wfts|cs|cd|ov|sl|sr|nxr|nxl|adj)(\([^)]*\))?\./;

type RawKind = "text" | "xml" | "bytea";

/** What the request gives a function. */
type Given =
  | {
    readonly kind: "named";
    readonly args: ReadonlyMap<string, unknown>;
    readonly json: string | null;
  }
  | { readonly kind: "raw"; readonly raw: RawKind; readonly value: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function rawKind(contentType: string): RawKind | null {
  const base = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  if (base === "text/plain") return "text";
  if (base === "text/xml") return "xml";
  if (base === "application/octet-stream") return "bytea";
  return null;
}

function baseType(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

function givenFrom(req: ApiRequest): Given {
  if (req.method !== "POST") {
    const args = new Map<string, unknown>();
    for (const [k, v] of req.params.rpcArgs) {
      if (FILTER_VALUE.test(v)) continue;
      const prev = args.get(k);
      args.set(
        k,
        prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v],
      );
    }
    return { kind: "named", args, json: null };
  }
  const bytes = req.body ?? new Uint8Array();
  const raw = rawKind(req.contentType);
  if (raw !== null) {
    const value = raw === "bytea"
      ? "\\x" +
        Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
      : new TextDecoder().decode(bytes);
    return { kind: "raw", raw, value };
  }
  const text = new TextDecoder().decode(bytes);
  const args = new Map<string, unknown>();
  const ct = baseType(req.contentType);
  if (ct === "application/x-www-form-urlencoded") {
    for (const [k, v] of new URLSearchParams(text)) {
      const prev = args.get(k);
      args.set(
        k,
        prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v],
      );
    }
    return { kind: "named", args, json: null };
  }
  if (ct === "text/csv") {
    const rows = parseCsv(text);
    const header = rows[0] ?? [];
    const first = rows[1] ?? [];
    header.forEach((k, i) => args.set(k, first[i] ?? null));
    return { kind: "named", args, json: null };
  }
  if (text.trim() === "") return { kind: "named", args, json: "{}" };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw invalidBody("Empty or invalid json");
  }
  // an array's first object gives the arguments
  const obj = Array.isArray(v) ? v[0] : v;
  if (isObject(obj)) {
    for (const [k, x] of Object.entries(obj)) args.set(k, x);
  } else if (!Array.isArray(v)) {
    throw invalidBody("Empty or invalid json");
  }
  return { kind: "named", args, json: text };
}

function argText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** PostgREST widens fixed-length argument types so values are not cut. */
function argType(t: string): string {
  if (t === "bit") return "bit varying";
  if (t === "bit[]") return "bit varying[]";
  if (t === "character") return "character varying";
  if (t === "character[]") return "character varying[]";
  return t;
}

function isJsonType(t: string): boolean {
  return t === "json" || t === "jsonb";
}

function rawTypeOf(raw: RawKind): string {
  return raw;
}

function signature(r: Routine): string {
  return `${r.schema}.${r.name}(${
    r.params.map((p) => `${p.name} => ${p.type}`).join(", ")
  })`;
}

function fits(r: Routine, names: readonly string[]): boolean {
  return names.every((n) => r.params.some((p) => p.name === n)) &&
    r.params.every((p) => !p.required || p.variadic || names.includes(p.name));
}

function singleUnnamed(r: Routine, test: (t: string) => boolean): boolean {
  return r.params.length === 1 && r.params[0]?.name === "" &&
    test(r.params[0]?.type ?? "");
}

function notFound(
  req: ApiRequest,
  name: string,
  given: Given,
  overloads: readonly Routine[],
  cache: SchemaCache,
  role: string | null,
): PgrstError {
  const s = req.schema;
  // the hint names only functions the request's role may execute
  const candidates = overloads.filter((r) => canUseRoutine(cache, role, r));
  let message: string;
  let details: string;
  let hint: string | null = null;
  if (given.kind === "raw") {
    message = `Could not find the function ${s}.${name} in the schema cache`;
    details =
      `Searched for the function ${s}.${name} with a single unnamed ${given.raw} parameter, but no matches were found in the schema cache.`;
  } else {
    const names = [...given.args.keys()].sort();
    const list = names.join(", ");
    const orJson = given.json !== null
      ? " or with a single unnamed json/jsonb parameter"
      : "";
    message = names.length === 0
      ? `Could not find the function ${s}.${name} without parameters in the schema cache`
      : `Could not find the function ${s}.${name}(${list}) in the schema cache`;
    details = names.length === 0
      ? `Searched for the function ${s}.${name} without parameters${orJson}, but no matches were found in the schema cache.`
      : `Searched for the function ${s}.${name} with parameter${
        names.length > 1 ? "s" : ""
      } ${list}${orJson}, but no matches were found in the schema cache.`;
    if (candidates.length === 1) {
      const only = candidates[0];
      if (only !== undefined) {
        hint = `Perhaps you meant to call the function ${s}.${name}(${
          only.params.map((p) => p.name).join(", ")
        })`;
      }
    } else if (candidates.length > 1) {
      const lists = candidates.map((r) =>
        r.params.map((p) => p.name).join(", ")
      );
      const best = closestMatch(list, lists, 0.33);
      if (best !== null && best !== "") {
        hint = `Perhaps you meant to call the function ${s}.${name}(${best})`;
      }
    }
  }
  if (candidates.length === 0) {
    const names = [...cache.routines.values()].flat()
      .filter((r) => r.schema === s && canUseRoutine(cache, role, r))
      .map((r) => r.name);
    const best = closestMatch(name, [...new Set(names)], 0.33);
    if (best !== null) {
      hint = `Perhaps you meant to call the function ${s}.${best}`;
    }
  }
  return new PgrstError(404, "PGRST202", message, { details, hint });
}

function ambiguous(found: readonly Routine[]): PgrstError {
  return new PgrstError(
    300,
    "PGRST203",
    `Could not choose the best candidate function between: ${
      found.map(signature).join(", ")
    }`,
    {
      hint:
        "Try renaming the parameters or the function itself in the database so function overloading can be resolved",
    },
  );
}

function argValue(
  p: RoutineParam,
  v: unknown,
  fromJson: boolean,
): string | null {
  // a JSON body's values keep their JSON form for json/jsonb parameters
  if (isJsonType(p.type) && fromJson) {
    return v === null ? null : JSON.stringify(v);
  }
  if (p.variadic && !Array.isArray(v) && v !== null && v !== undefined) {
    return arrayLiteral([v]);
  }
  if (Array.isArray(v)) {
    return p.variadic || p.type.endsWith("[]")
      ? arrayLiteral(v)
      : argText(v[v.length - 1]);
  }
  return argText(v);
}

/**
 * Picks the overload of `/rpc/name` and binds its arguments; query-string
 * values that look like filters are returned to filter the result.
 * @throws {PgrstError} PGRST102, PGRST202, PGRST203
 */
export function planCall(
  req: ApiRequest,
  name: string,
  cache: SchemaCache,
  role: string | null = null,
): { call: CallSource; filters: readonly (readonly [string, string])[] } {
  const candidates = cache.routines.get(qualifiedKey(req.schema, name)) ?? [];
  const given = givenFrom(req);
  let routine: Routine;
  let args: CallSource["args"];
  if (given.kind === "raw") {
    const want = rawTypeOf(given.raw);
    const found = candidates.filter((r) => singleUnnamed(r, (t) => t === want));
    const only = found[0];
    if (only === undefined) {
      throw notFound(req, name, given, candidates, cache, role);
    }
    if (found.length > 1) throw ambiguous(found);
    routine = only;
    args = [{ name: "", type: want, value: given.value, variadic: false }];
  } else {
    const names = [...given.args.keys()];
    const singleObject = req.prefs.params === "single-object";
    let found = singleObject
      ? candidates.filter((r) =>
        r.params.length === 1 && isJsonType(r.params[0]?.type ?? "")
      )
      : candidates.filter((r) => fits(r, names));
    if (found.length === 0 && given.json !== null) {
      found = candidates.filter((r) => singleUnnamed(r, isJsonType));
    }
    const only = found[0];
    if (only === undefined) {
      throw notFound(req, name, given, candidates, cache, role);
    }
    if (found.length > 1) throw ambiguous(found);
    routine = only;
    const first = routine.params[0];
    if (
      first !== undefined && routine.params.length === 1 &&
      (singleObject || (first.name === "" && isJsonType(first.type)))
    ) {
      args = [{
        name: first.name,
        type: first.type,
        value: given.json ?? "{}",
        variadic: false,
      }];
    } else {
      args = routine.params.filter((p) => given.args.has(p.name)).map((p) => ({
        name: p.name,
        type: argType(p.type),
        value: argValue(p, given.args.get(p.name), given.json !== null),
        variadic: p.variadic,
      }));
    }
  }
  const filters = req.method === "POST"
    ? []
    : req.params.rpcArgs.filter(([, v]) => FILTER_VALUE.test(v));
  const shape = routine.returnTypeName === "void"
    ? "void"
    : routine.returnsComposite
    ? (routine.returnsSet ? "set" : "single")
    : (routine.returnsSet ? "scalar-set" : "scalar");
  return {
    call: {
      routine,
      args,
      shape,
      signJwt: routine.returnTypeName.endsWith("jwt_claims"),
    },
    filters,
  };
}

/** The relation a function's result is read as (for filters and embeds). */
export function resultTable(r: Routine, cache: SchemaCache): Table {
  const t = findTable(cache, r.returnTypeSchema, r.returnTypeName);
  if (t !== undefined) return t;
  return {
    schema: r.schema,
    name: r.name,
    description: null,
    isView: false,
    isPartitioned: false,
    insertable: false,
    updatable: false,
    deletable: false,
    primaryKey: [],
    uniques: [],
    columns: [],
    columnsByName: new Map(),
  };
}
