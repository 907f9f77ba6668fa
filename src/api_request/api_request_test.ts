/**
 * Tests for turning a raw request into an `ApiRequest`: the target
 * (PGRST125), the profile headers (PGRST106), the `Range` header, its
 * intersection with `limit`/`offset` and PGRST103, `Prefer` with
 * `handling=strict` (PGRST122), the method (PGRST117) and the Accept list.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Config, DEFAULT_CONFIG } from "../config/types.ts";
import { PgrstError } from "../error.ts";
import {
  canonicalLocation,
  intersectRanges,
  parseApiRequest,
  parseRangeHeader,
  parseTarget,
  pickSchema,
  type RawRequest,
} from "./api_request.ts";
import type { ApiRequest } from "./types.ts";

const CONFIG: Config = {
  ...DEFAULT_CONFIG,
  dbSchemas: ["api", "api2"],
  dbAnonRole: "web_anon",
};

function raw(
  pathAndQuery: string,
  init: {
    method?: string;
    headers?: Record<string, string> | [string, string][];
    body?: Uint8Array | null;
  } = {},
): RawRequest {
  const q = pathAndQuery.indexOf("?");
  return {
    method: init.method ?? "GET",
    path: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q),
    search: q < 0 ? "" : pathAndQuery.slice(q + 1),
    headers: new Headers(init.headers ?? {}),
    body: init.body ?? null,
  };
}

function parse(
  pathAndQuery: string,
  init: Parameters<typeof raw>[1] = {},
  config: Config = CONFIG,
): ApiRequest {
  return parseApiRequest(raw(pathAndQuery, init), config);
}

/** Asserts that `fn` throws a PgrstError with this code and status. */
function failsWith(
  fn: () => unknown,
  code: string,
  status: number,
): PgrstError {
  let caught: unknown;
  try {
    fn();
  } catch (e: unknown) {
    caught = e;
  }
  assert.ok(
    caught instanceof PgrstError,
    `expected a PgrstError, got ${String(caught)}`,
  );
  assert.equal(caught.code, code);
  assert.equal(caught.status, status);
  return caught;
}

// ---------------------------------------------------------------- target

Deno.test("parseTarget() reads the root, a relation and a function", () => {
  assert.deepEqual(parseTarget("/"), { kind: "root" });
  assert.deepEqual(parseTarget(""), { kind: "root" });
  assert.deepEqual(parseTarget("/items"), { kind: "relation", name: "items" });
  assert.deepEqual(parseTarget("/items/"), { kind: "relation", name: "items" });
  assert.deepEqual(parseTarget("/rpc/add"), { kind: "routine", name: "add" });
});

Deno.test("parseTarget() percent-decodes names", () => {
  assert.deepEqual(parseTarget("/caf%C3%A9"), {
    kind: "relation",
    name: "café",
  });
  assert.deepEqual(parseTarget("/my%20table"), {
    kind: "relation",
    name: "my table",
  });
  assert.deepEqual(parseTarget("/rpc/a%22b"), {
    kind: "routine",
    name: 'a"b',
  });
});

Deno.test("parseTarget() rejects nested paths with PGRST125", () => {
  // QuerySpec: "invalid resource path" → 404 PGRST125
  const e = failsWith(
    () => parseTarget("/first/second/third"),
    "PGRST125",
    404,
  );
  assert.equal(e.message, "Invalid path specified in request URL");
  assert.deepEqual(e.body(), {
    code: "PGRST125",
    details: null,
    hint: null,
    message: "Invalid path specified in request URL",
  });
  failsWith(() => parseTarget("/items/1"), "PGRST125", 404);
  failsWith(() => parseTarget("/rpc/a/b"), "PGRST125", 404);
});

Deno.test("parseTarget() rejects broken percent-encoding with PGRST125", () => {
  failsWith(() => parseTarget("/%E0%A4%A"), "PGRST125", 404);
});

Deno.test("parseApiRequest() reports the target's PGRST125", () => {
  failsWith(() => parse("/invalid/nested/paths"), "PGRST125", 404);
});

// ---------------------------------------------------------------- profiles

Deno.test("pickSchema() defaults to the first exposed schema and echoes it when several are exposed", () => {
  assert.deepEqual(pickSchema("GET", new Headers(), ["api", "api2"]), {
    schema: "api",
    profileGiven: true,
  });
});

Deno.test("pickSchema() reads Accept-Profile on GET and HEAD", () => {
  for (const method of ["GET", "HEAD"] as const) {
    const headers = new Headers({
      "Accept-Profile": "api2",
      "Content-Profile": "api",
    });
    assert.deepEqual(pickSchema(method, headers, ["api", "api2"]), {
      schema: "api2",
      profileGiven: true,
    });
  }
});

Deno.test("pickSchema() reads Content-Profile on writes", () => {
  for (const method of ["POST", "PATCH", "PUT", "DELETE"] as const) {
    const headers = new Headers({
      "Accept-Profile": "api",
      "Content-Profile": "api2",
    });
    assert.equal(pickSchema(method, headers, ["api", "api2"]).schema, "api2");
  }
});

Deno.test("pickSchema() rejects a schema that is not exposed with PGRST106", () => {
  const e = failsWith(
    () =>
      pickSchema("GET", new Headers({ "Accept-Profile": "unknown" }), [
        "api",
        "api2",
      ]),
    "PGRST106",
    406,
  );
  assert.deepEqual(e.body(), {
    code: "PGRST106",
    details: null,
    hint: "Only the following schemas are exposed: api, api2",
    message: "Invalid schema: unknown",
  });
  failsWith(
    () =>
      pickSchema("POST", new Headers({ "Content-Profile": "public" }), ["api"]),
    "PGRST106",
    406,
  );
});

Deno.test("pickSchema() keeps exotic schema names verbatim", () => {
  const special = 'SPECIAL "@/\\#~_-';
  assert.deepEqual(
    pickSchema("GET", new Headers({ "Accept-Profile": special }), [
      "v1",
      special,
    ]),
    { schema: special, profileGiven: true },
  );
});

Deno.test("parseApiRequest() picks the schema from the profile header", () => {
  const r = parse("/things", { headers: { "Accept-Profile": "api2" } });
  assert.equal(r.schema, "api2");
  assert.equal(r.profileGiven, true);
  failsWith(
    () => parse("/things", { headers: { "Accept-Profile": "nope" } }),
    "PGRST106",
    406,
  );
});

// ---------------------------------------------------------------- ranges

Deno.test("parseRangeHeader() reads PostgREST's lower-upper form", () => {
  // docs (pagination_count.rst): `Range-Unit: items` and `Range: 0-19`
  assert.deepEqual(parseRangeHeader("0-19"), { offset: 0, limit: 20 });
  assert.deepEqual(parseRangeHeader("10-100"), { offset: 10, limit: 91 });
  assert.deepEqual(parseRangeHeader("0-0"), { offset: 0, limit: 1 });
  assert.deepEqual(parseRangeHeader("5-"), { offset: 5, limit: null });
});

Deno.test("parseRangeHeader() ignores an absent or unreadable header", () => {
  assert.equal(parseRangeHeader(null), null);
  assert.equal(parseRangeHeader("bytes"), null);
  assert.equal(parseRangeHeader("-5"), null);
  assert.equal(parseRangeHeader("a-b"), null);
});

Deno.test("parseRangeHeader() rejects lower > upper with PGRST103", () => {
  // RangeSpec: "fails with 416 for offside range"
  const e = failsWith(() => parseRangeHeader("1-0"), "PGRST103", 416);
  assert.deepEqual(e.body(), {
    code: "PGRST103",
    details:
      "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
    hint: null,
    message: "Requested range not satisfiable",
  });
});

Deno.test("intersectRanges() keeps the rows both ranges allow", () => {
  const all = { offset: 0, limit: null };
  assert.deepEqual(intersectRanges(all, all), all);
  assert.deepEqual(intersectRanges(all, { offset: 3, limit: 2 }), {
    offset: 3,
    limit: 2,
  });
  // rows 0..9 and rows 2..6
  assert.deepEqual(
    intersectRanges({ offset: 0, limit: 10 }, { offset: 2, limit: 5 }),
    { offset: 2, limit: 5 },
  );
  // rows 5..9 and rows 0..6
  assert.deepEqual(
    intersectRanges({ offset: 5, limit: 5 }, { offset: 0, limit: 7 }),
    { offset: 5, limit: 2 },
  );
  // disjoint: rows 5..9 and rows 0..2
  assert.deepEqual(
    intersectRanges({ offset: 5, limit: 5 }, { offset: 0, limit: 3 }),
    { offset: 5, limit: 0 },
  );
  // an open range from 4 and rows 0..9
  assert.deepEqual(
    intersectRanges({ offset: 4, limit: null }, { offset: 0, limit: 10 }),
    { offset: 4, limit: 6 },
  );
});

Deno.test("parseApiRequest() takes the range from limit and offset", () => {
  assert.deepEqual(parse("/items?limit=3&offset=2").range, {
    offset: 2,
    limit: 3,
  });
  assert.deepEqual(parse("/items").range, { offset: 0, limit: null });
  assert.deepEqual(parse("/items?limit=0").range, { offset: 0, limit: 0 });
});

Deno.test("parseApiRequest() intersects the Range header with limit and offset", () => {
  assert.deepEqual(
    parse("/items", { headers: { Range: "0-9" } }).range,
    { offset: 0, limit: 10 },
  );
  assert.deepEqual(
    parse("/items?limit=5&offset=2", {
      headers: { "Range-Unit": "items", Range: "0-9" },
    }).range,
    { offset: 2, limit: 5 },
  );
  assert.deepEqual(
    parse("/items?limit=20", { headers: { Range: "3-5" } }).range,
    { offset: 3, limit: 3 },
  );
});

Deno.test("parseApiRequest() ignores the Range header on writes", () => {
  assert.deepEqual(
    parse("/items", { method: "PATCH", headers: { Range: "0-1" } }).range,
    { offset: 0, limit: null },
  );
});

Deno.test("parseApiRequest() rejects Range lower > upper with PGRST103", () => {
  failsWith(
    () => parse("/items", { headers: { "Range-Unit": "items", Range: "1-0" } }),
    "PGRST103",
    416,
  );
});

Deno.test("parseApiRequest() rejects a negative limit with PGRST103", () => {
  // RangeSpec: "fails if limit is negative"
  const e = failsWith(
    () => parse("/items?select=id&limit=-1"),
    "PGRST103",
    416,
  );
  assert.deepEqual(e.body(), {
    code: "PGRST103",
    details: "Limit should be greater than or equal to zero.",
    hint: null,
    message: "Requested range not satisfiable",
  });
});

Deno.test("parseApiRequest() treats a negative offset as no offset", () => {
  // RangeSpec: `/items?select=id&offset=-4&order=id` → all rows, 0-14/*
  assert.deepEqual(parse("/items?offset=-4").range, { offset: 0, limit: null });
});

// ---------------------------------------------------------------- the rest

Deno.test("parseApiRequest() reads method, target, params, prefs and accept", () => {
  const r = parse("/items?select=id&id=eq.1&order=id.desc", {
    headers: {
      Prefer: "count=exact",
      Accept: "text/csv;q=0.5, application/json",
    },
  });
  assert.equal(r.method, "GET");
  assert.deepEqual(r.target, { kind: "relation", name: "items" });
  assert.equal(r.schema, "api");
  assert.equal(r.profileGiven, true);
  assert.equal(r.params.select.length, 1);
  assert.equal(r.params.filters.length, 1);
  assert.equal(r.params.order.length, 1);
  assert.equal(r.prefs.count, "exact");
  assert.deepEqual(r.accept, ["application/json", "text/csv"]);
  assert.equal(r.body, null);
});

Deno.test("parseApiRequest() accepts the method in any case", () => {
  assert.equal(parse("/items", { method: "head" }).method, "HEAD");
});

Deno.test("parseApiRequest() rejects an unknown method with PGRST117", () => {
  const e = failsWith(
    () => parse("/items", { method: "TRACE" }),
    "PGRST117",
    405,
  );
  assert.equal(e.message, "Unsupported HTTP method: TRACE");
});

Deno.test("parseApiRequest() reads Prefer from several headers", () => {
  const r = parse("/items", {
    headers: [["Prefer", "count=planned"], ["Prefer", "timezone=UTC"]],
  });
  assert.equal(r.prefs.count, "planned");
  assert.equal(r.prefs.timezone, "UTC");
});

Deno.test("parseApiRequest() rejects invalid preferences with handling=strict", () => {
  const e = failsWith(
    () => parse("/items", { headers: { Prefer: "handling=strict, foo=bar" } }),
    "PGRST122",
    400,
  );
  assert.equal(e.details, "Invalid preferences: foo=bar");
  // lenient (the default) ignores them
  assert.deepEqual(
    parse("/items", { headers: { Prefer: "foo=bar" } }).prefs.invalid,
    ["foo=bar"],
  );
});

Deno.test("parseApiRequest() reports query-string errors with PGRST100", () => {
  failsWith(() => parse("/items?id=0"), "PGRST100", 400);
  failsWith(() => parse("/items?select=id,"), "PGRST100", 400);
  failsWith(() => parse("/items?order=id.ac"), "PGRST100", 400);
});

Deno.test("parseApiRequest() decodes + and %20 as spaces in values", () => {
  const r = parse("/items?name=eq.desk+lamp&data->>k=eq.a%20b");
  assert.deepEqual(
    r.params.filters.map((f) => f.filter.operation),
    [
      { kind: "op", op: "eq", value: "desk lamp" },
      { kind: "op", op: "eq", value: "a b" },
    ],
  );
});

Deno.test("canonicalLocation() sorts parameters by name, stably, and keeps a single one as it is", () => {
  assert.equal(canonicalLocation("/items", ""), "/items");
  assert.equal(canonicalLocation("/items", "id=eq.5"), "/items?id=eq.5");
  assert.equal(
    canonicalLocation("/items", "select=id&id=eq.5&id=gt.1"),
    "/items?id=eq.5&id=gt.1&select=id",
  );
  assert.equal(canonicalLocation("/items", "&b=1&&a=2&"), "/items?a=2&b=1");
});

Deno.test("parseTarget() refuses a malformed escape", () => {
  assert.throws(() => parseTarget("/bad%E0%A4%A"), PgrstError);
});

Deno.test("parseTarget() skips empty segments and decodes each one", () => {
  assert.deepEqual(parseTarget("//items//"), {
    kind: "relation",
    name: "items",
  });
  assert.deepEqual(parseTarget("/rpc//a%2Fb"), {
    kind: "routine",
    name: "a/b",
  });
  assert.deepEqual(parseTarget("items"), { kind: "relation", name: "items" });
  assert.throws(() => parseTarget("/a/b/c"), PgrstError);
  assert.throws(() => parseTarget("/a/b"), PgrstError);
});
