/**
 * Owns planning `/rpc/<function>` calls: the arguments from the body of a
 * POST (JSON and CSV read by `payload.ts` as table writes are, forms, or one
 * raw text, xml or bytea value) or the query string of a GET (values with an
 * operator are filters), overload resolution by the argument names given
 * (and the single unnamed json/jsonb, text, xml or bytea parameter) among
 * the functions a request can call, variadic and repeated parameters, and
 * PostgREST's PGRST202/PGRST203 errors with their hints.
 *
 * Pure.
 *
 * @module
 */

import { Memo2 } from "../memo.ts";
import { bodyMedia, mediaTypeBase } from "../api_request/media_type.ts";
import {
  decode,
  parseCsvPayload,
  parseJsonPayload,
} from "../api_request/payload.ts";
import { isFilterValue } from "../api_request/query_params.ts";
import type { ApiRequest } from "../api_request/types.ts";
import { PgrstError } from "../error.ts";
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

type RawKind = "text" | "xml" | "bytea";

/** What the request gives a function. */
type Given =
  | {
    readonly kind: "named";
    readonly args: ReadonlyMap<string, unknown>;
    /** The JSON body (`application/json` only), for json/jsonb fallbacks. */
    readonly json: string | null;
  }
  | { readonly kind: "raw"; readonly raw: RawKind; readonly value: string };

/** Adds a value; a repeated name collects its values in an array. */
function addArg(args: Map<string, unknown>, k: string, v: string): void {
  const prev = args.get(k);
  args.set(
    k,
    prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v],
  );
}

/**
 * The arguments of a POST body, read by its Content-Type with the rules of
 * table writes (`payload.ts`), as PostgREST's `Payload.hs` reads both: an
 * array's or a CSV's first row gives the arguments (PostgREST calls the
 * function with `LIMIT 1`), but every row must have the same keys (JSON)
 * or number of fields (CSV), and `NULL` in CSV is null. An empty JSON body
 * is `{}`; text, XML and binary bodies are one raw value.
 * @throws {PgrstError} PGRST102 for an invalid body or an unknown media type
 */
function givenFromBody(req: ApiRequest): Given {
  const bytes = req.body ?? new Uint8Array();
  const media = bodyMedia(req.contentType);
  switch (media) {
    case "bytea":
      return {
        kind: "raw",
        raw: media,
        value: "\\x" +
          Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""),
      };
    case "text":
    case "xml":
      return {
        kind: "raw",
        raw: media,
        value: decode(bytes),
      };
    case "form": {
      // repeated names are kept: they fill array and variadic parameters
      const args = new Map<string, unknown>();
      const text = decode(bytes);
      for (const [k, v] of new URLSearchParams(text)) addArg(args, k, v);
      return { kind: "named", args, json: null };
    }
    case "csv": {
      const payload = parseCsvPayload(decode(bytes));
      return { kind: "named", args: argsOf(payload.first), json: null };
    }
    case "json": {
      // only a body of no bytes at all is "no arguments"
      if (req.payload === undefined && bytes.length === 0) {
        return { kind: "named", args: new Map(), json: "{}" };
      }
      // with ?columns= the rows need not share keys (as for table writes);
      // a large body was parsed ahead, on the worker (src/body_parser.ts)
      const columns = req.params.columns;
      const payload = req.payload ??
        parseJsonPayload(decode(bytes), columns === null);
      const text = payload.single ? payload.json.slice(1, -1) : payload.json;
      const row = argsOf(payload.first);
      if (columns === null) return { kind: "named", args: row, json: text };
      // ?columns= names the arguments: others are ignored, absent ones null
      const args = new Map<string, unknown>(
        columns.map((c) => [c, row.get(c) ?? null]),
      );
      return { kind: "named", args, json: text };
    }
    case null:
      throw new PgrstError(
        400,
        "PGRST102",
        `Content-Type not acceptable: ${mediaTypeBase(req.contentType)}`,
      );
  }
}

/** A body's first row as arguments (none without a row). */
function argsOf(
  first: Readonly<Record<string, unknown>> | null,
): Map<string, unknown> {
  return new Map(first === null ? [] : Object.entries(first));
}

function givenFrom(req: ApiRequest): Given {
  if (req.method === "POST") return givenFromBody(req);
  const args = new Map<string, unknown>();
  for (const [k, v] of req.params.rpcArgs) {
    if (!isFilterValue(v)) addArg(args, k, v);
  }
  return { kind: "named", args, json: null };
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

/** Parameter names as PostgREST's hints list them: sorted, in parentheses. */
function paramList(names: readonly string[]): string {
  return `(${[...names].sort().join(", ")})`;
}

const SINGLE_UNNAMED_TYPES: ReadonlySet<string> = new Set([
  "bytea",
  "json",
  "jsonb",
  "text",
  "xml",
]);

/**
 * Whether a request can call the function at all. PostgREST's schema cache
 * leaves out functions with more than one unnamed parameter, or with one
 * that is not bytea, json, jsonb, text or xml: they are neither found nor
 * suggested.
 */
function callable(r: Routine): boolean {
  const unnamed = r.params.filter((p) => p.name === "");
  const only = unnamed[0];
  if (only === undefined) return true;
  return unnamed.length === 1 && SINGLE_UNNAMED_TYPES.has(only.type);
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
    if (candidates.length > 0) {
      // the closest overload by its sorted parameter list, as PostgREST's
      // noRpcHint compares "(a, b)" with "(a, b, c)"
      const best = closestMatch(
        paramList(names),
        candidates.map((r) => paramList(r.params.map((p) => p.name))),
        0.33,
      );
      if (best !== null) {
        hint = `Perhaps you meant to call the function ${s}.${name}${best}`;
      }
    } else {
      const names = [...cache.routines.values()].flat()
        .filter((r) =>
          r.schema === s && callable(r) && canUseRoutine(cache, role, r)
        )
        .map((r) => r.name);
      const best = closestMatch(name, [...new Set(names)], 0.33);
      if (best !== null) {
        hint = `Perhaps you meant to call the function ${s}.${best}`;
      }
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
  const candidates = callableOf(
    cache.routines.get(qualifiedKey(req.schema, name)),
  );
  const given = givenFrom(req);
  let routine: Routine;
  let args: CallSource["args"];
  if (given.kind === "raw") {
    const want: string = given.raw;
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
    let found = candidates.filter((r) => fits(r, names));
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
      first.name === "" && isJsonType(first.type)
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
    : req.params.rpcArgs.filter(([, v]) => isFilterValue(v));
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

/** The callable ones of a name's overloads, by the schema cache's list. */
const callables = new WeakMap<readonly Routine[], readonly Routine[]>();
const NO_ROUTINES: readonly Routine[] = Object.freeze([]);

/** The overloads a request can call (see {@linkcode callable}). */
function callableOf(
  overloads: readonly Routine[] | undefined,
): readonly Routine[] {
  if (overloads === undefined) return NO_ROUTINES;
  let out = callables.get(overloads);
  if (out === undefined) {
    out = Object.freeze(overloads.filter(callable));
    callables.set(overloads, out);
  }
  return out;
}

/** Result relations of functions, by schema cache and function. */
const resultTables = new Memo2<SchemaCache, Routine, Table>(
  (cache, r) => resultTableOf(r, cache),
  () => new WeakMap(),
);

/**
 * The relation a function's result is read as (for filters and embeds):
 * one object per schema cache and function, so that what is remembered
 * per table holds for it too.
 */
export function resultTable(r: Routine, cache: SchemaCache): Table {
  return resultTables.get(cache, r);
}

function resultTableOf(r: Routine, cache: SchemaCache): Table {
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
