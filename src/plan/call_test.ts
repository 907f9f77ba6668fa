/**
 * Tests for planning `/rpc/<function>` calls from a hand-built schema cache:
 * how POST bodies become arguments (JSON, CSV, forms, raw text/xml/bytea,
 * unknown media types), which query-string values of a GET are filters,
 * and the PGRST202 message, details and hint when no function matches.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseApiRequest } from "../api_request/api_request.ts";
import { type Config, DEFAULT_CONFIG } from "../config/types.ts";
import { PgrstError } from "../error.ts";
import type {
  Routine,
  RoutineParam,
  SchemaCache,
} from "../schema_cache/types.ts";
import { planCall, resultTable } from "./call.ts";
import type { CallSource } from "./plan.ts";

const CONFIG: Config = { ...DEFAULT_CONFIG, dbSchemas: ["api"] };

function param(name: string, type: string, required = true): RoutineParam {
  return { name, type, required, variadic: false };
}

function routine(name: string, params: RoutineParam[]): Routine {
  return {
    schema: "api",
    name,
    description: null,
    params,
    returnTypeSchema: "pg_catalog",
    returnTypeName: "text",
    returnsSet: false,
    returnsComposite: false,
    volatility: "v",
    estimatedRows: 0,
    firstArgType: null,
  };
}

const ROUTINES: Routine[] = [
  routine("add_them", [param("a", "integer"), param("b", "integer")]),
  routine("echo", [param("v", "text")]),
  routine("maybe", [param("a", "text", false), param("b", "text", false)]),
  routine("tags", [param("t", "text[]")]),
  routine("named_json", [param("data", "json")]),
  routine("unnamed_json", [param("", "json")]),
  routine("unnamed_text", [param("", "text")]),
  routine("unnamed_int", [param("", "integer")]),
  routine("two_unnamed", [param("", "text"), param("", "text")]),
];

const CACHE: SchemaCache = {
  tables: new Map(),
  foreignKeys: [],
  routines: new Map(
    ROUTINES.map((r) => [`api\u0000${r.name}`, [r]] as const),
  ),
  computed: new Map(),
  pgVersion: 150000,
};

function request(
  method: string,
  pathAndQuery: string,
  body: string | Uint8Array | null,
  contentType?: string,
  extra: Record<string, string> = {},
) {
  const q = pathAndQuery.indexOf("?");
  const headers = new Headers(extra);
  if (contentType !== undefined) headers.set("content-type", contentType);
  return parseApiRequest({
    method,
    path: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q),
    search: q < 0 ? "" : pathAndQuery.slice(q + 1),
    headers,
    body: typeof body === "string" ? new TextEncoder().encode(body) : body,
  }, CONFIG);
}

function post(
  name: string,
  body: string | Uint8Array | null,
  contentType?: string,
) {
  return planCall(
    request("POST", `/rpc/${name}`, body, contentType),
    name,
    CACHE,
  );
}

function args(call: CallSource): Record<string, string | null> {
  return Object.fromEntries(call.args.map((a) => [a.name, a.value]));
}

function pgrstError(fn: () => unknown): PgrstError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PgrstError) return e;
    throw e;
  }
  assert.fail("expected a PgrstError");
}

function errorBody(e: PgrstError): Record<string, unknown> {
  return JSON.parse(JSON.stringify(e.body())) as Record<string, unknown>;
}

// ------------------------------------------------------------ CSV bodies

Deno.test("a CSV body's NULL field is a null argument", () => {
  const { call } = post("maybe", "a,b\nNULL,x", "text/csv");
  assert.deepEqual(args(call), { a: null, b: "x" });
});

Deno.test("a CSV body's empty field is an empty string argument", () => {
  const { call } = post("maybe", "a,b\n,x", "text/csv");
  assert.deepEqual(args(call), { a: "", b: "x" });
});

Deno.test("a CSV body's first row gives the arguments, the rest are ignored", () => {
  const { call } = post("add_them", "a,b\n1,2\n4,6\n100,200", "text/csv");
  assert.deepEqual(args(call), { a: "1", b: "2" });
});

Deno.test("a CSV body whose rows differ in length is 400 PGRST102", () => {
  const e = pgrstError(() => post("add_them", "a,b\n1,2\n3", "text/csv"));
  assert.equal(e.status, 400);
  assert.equal(e.code, "PGRST102");
  assert.equal(e.message, "All lines must have same number of fields");
});

Deno.test("a CSV body does not fall back to a single unnamed json parameter", () => {
  const e = pgrstError(() => post("unnamed_json", "a,b\n1,2", "text/csv"));
  assert.equal(e.code, "PGRST202");
  assert.equal(
    errorBody(e)["details"],
    "Searched for the function api.unnamed_json with parameters a, b, but no matches were found in the schema cache.",
  );
});

// ----------------------------------------------------------- JSON bodies

Deno.test("a JSON array's first object gives the arguments", () => {
  const { call } = post("add_them", '[{"a":1,"b":2},{"a":4,"b":6}]');
  assert.deepEqual(args(call), { a: "1", b: "2" });
});

Deno.test("a JSON array whose objects have different keys is 400 PGRST102", () => {
  const e = pgrstError(() => post("add_them", '[{"a":1,"b":2},{"a":4}]'));
  assert.equal(e.status, 400);
  assert.equal(e.code, "PGRST102");
  assert.equal(e.message, "All object keys must match");
});

Deno.test("a JSON array of non-objects is 400 PGRST102", () => {
  const e = pgrstError(() => post("add_them", "[1,2]"));
  assert.equal(e.status, 400);
  assert.equal(e.message, "All object keys must match");
});

Deno.test("invalid JSON is 400 PGRST102 Empty or invalid json", () => {
  const e = pgrstError(() => post("add_them", '{"a":'));
  assert.equal(e.status, 400);
  assert.equal(e.code, "PGRST102");
  assert.equal(e.message, "Empty or invalid json");
});

Deno.test("an empty body calls the function without arguments", () => {
  const { call } = post("maybe", null);
  assert.deepEqual(call.args, []);
});

Deno.test("a JSON body is passed whole to a single unnamed json parameter", () => {
  const { call } = post("unnamed_json", '{"x":1,"y":2}', "application/json");
  assert.deepEqual(args(call), { "": '{"x":1,"y":2}' });
});

Deno.test("the media type of the body is matched without regard to case or parameters", () => {
  const { call } = post("add_them", "a,b\n1,2", "Text/CSV; charset=utf-8");
  assert.deepEqual(args(call), { a: "1", b: "2" });
});

// ------------------------------------------------- other media types

Deno.test("a form body's repeated names fill an array parameter", () => {
  const { call } = post(
    "tags",
    "t=a&t=b",
    "application/x-www-form-urlencoded",
  );
  assert.deepEqual(args(call), { t: '{"a","b"}' });
});

Deno.test("a text/plain body is the single unnamed text argument", () => {
  const { call } = post("unnamed_text", "hello", "text/plain; charset=utf-8");
  assert.deepEqual(args(call), { "": "hello" });
});

Deno.test("an unknown Content-Type is 400 PGRST102 Content-Type not acceptable", () => {
  const e = pgrstError(() => post("add_them", '{"a":1,"b":2}', "foo/bar"));
  assert.equal(e.status, 400);
  assert.equal(e.code, "PGRST102");
  assert.equal(e.message, "Content-Type not acceptable: foo/bar");
});

Deno.test("a GET ignores the Content-Type", () => {
  const { call } = planCall(
    request("GET", "/rpc/add_them?a=1&b=2", null, "foo/bar"),
    "add_them",
    CACHE,
  );
  assert.deepEqual(args(call), { a: "1", b: "2" });
});

// --------------------------------------------------- GET filters

Deno.test("GET query values with an operator are filters, the rest arguments", () => {
  const { call, filters } = planCall(
    request(
      "GET",
      "/rpc/maybe?a=eq.x&a=hello&c=not.in.(1,2)&d=fts(english).cat&e=gt(any).{1,2}&f=isdistinct.3&b=nope.1",
      null,
    ),
    "maybe",
    CACHE,
  );
  assert.deepEqual(args(call), { a: "hello", b: "nope.1" });
  assert.deepEqual(filters.map(([k]) => k), ["a", "c", "d", "e", "f"]);
});

// --------------------------------------------------- PGRST202

Deno.test("a named json parameter is not the single unnamed json fallback, and a far parameter list gives no hint", () => {
  const e = pgrstError(() => post("named_json", '{"A":1,"B":2,"C":3}'));
  assert.equal(e.status, 404);
  assert.deepEqual(errorBody(e), {
    code: "PGRST202",
    message:
      "Could not find the function api.named_json(A, B, C) in the schema cache",
    details:
      "Searched for the function api.named_json with parameters A, B, C or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.",
    hint: null,
  });
});

Deno.test("a function with one unnamed integer parameter cannot be called and is not suggested", () => {
  const e = pgrstError(() => post("unnamed_int", '{"x":1,"y":2}'));
  assert.equal(
    errorBody(e)["hint"],
    "Perhaps you meant to call the function api.unnamed_text",
  );
});

Deno.test("a function with two unnamed parameters is not suggested", () => {
  const e = pgrstError(() => post("two_unnamedd", "{}"));
  assert.equal(e.code, "PGRST202");
  assert.equal(errorBody(e)["hint"], null);
});

Deno.test("the hint names the closest parameter list of a single overload", () => {
  const e = pgrstError(() =>
    planCall(
      request("GET", "/rpc/add_them?a=1&b=2&smthelse=x", null),
      "add_them",
      CACHE,
    )
  );
  assert.equal(
    errorBody(e)["hint"],
    "Perhaps you meant to call the function api.add_them(a, b)",
  );
});

Deno.test("a raw body that matches no function gives no hint", () => {
  const e = pgrstError(() => post("unnamed_int", "a simple text", "text/xml"));
  assert.deepEqual(errorBody(e), {
    code: "PGRST202",
    message: "Could not find the function api.unnamed_int in the schema cache",
    details:
      "Searched for the function api.unnamed_int with a single unnamed xml parameter, but no matches were found in the schema cache.",
    hint: null,
  });
});

Deno.test("Prefer: params=single-object no longer passes the body to a named json parameter", () => {
  const e = pgrstError(() =>
    planCall(
      request("POST", "/rpc/named_json", '{"x":1}', "application/json", {
        Prefer: "params=single-object",
      }),
      "named_json",
      CACHE,
    )
  );
  assert.equal(e.code, "PGRST202");
});

Deno.test("?columns= on a JSON body names the arguments: other keys are ignored, absent ones are null", () => {
  const { call } = planCall(
    request("POST", "/rpc/add_them?columns=a,b", '[{"a":1,"c":3},{"b":2}]'),
    "add_them",
    CACHE,
  );
  assert.deepEqual(args(call), { a: "1", b: null });
});

Deno.test("resultTable gives one relation per function and schema cache, with the function's name and no columns for a scalar result", () => {
  const r = ROUTINES[0] as Routine;
  const t = resultTable(r, CACHE);
  assert.equal(resultTable(r, CACHE), t);
  assert.equal(t.name, "add_them");
  assert.equal(t.columns.length, 0);
  const other: SchemaCache = { ...CACHE, routines: new Map(CACHE.routines) };
  assert.notEqual(resultTable(r, other), t);
  assert.deepEqual(resultTable(r, other), t);
});

Deno.test("the same call planned twice picks the same function, and an uncallable overload stays unfound", () => {
  assert.equal(post("echo", '{"v":"x"}').call.routine, ROUTINES[1]);
  assert.equal(post("echo", '{"v":"y"}').call.routine, ROUTINES[1]);
  for (let i = 0; i < 2; i++) {
    assert.equal(
      pgrstError(() => post("two_unnamed", "x", "text/plain")).code,
      "PGRST202",
    );
  }
});
