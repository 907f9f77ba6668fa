/**
 * Data representations (PostgREST's "domain representations") against the
 * fixture database: columns whose domain has implicit cast functions are
 * formatted on output (`domain → json`: selects, aliases, casts on top,
 * stars, embeds, return=representation), parsed from query-string filter
 * values (`text → domain`: eq, in, not.in, across relations) and from the
 * body (`json → domain`: POST, PATCH, `?columns`). The app is built
 * in-process (`startApp` + `makeHandler`).
 *
 * Everything runs in the `reps` schema (tests/fixtures/representations.sql),
 * which no other test file exposes; writes roll back (`db-tx-end` is
 * rollback-allow-override), so the rows stay as the fixture made them.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, type RunningApp, startApp } from "../../src/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");

const CONFIG: Config = {
  ...DEFAULT_CONFIG,
  dbUri: uri ?? "",
  dbSchemas: ["reps"],
  dbAnonRole: "web_anon",
  jwtSecret: "reallyreallyreallyreallyverysafe",
  dbTxEnd: "rollback-allow-override",
  dbAggregatesEnabled: true,
  dbPool: 2,
};

let running: Promise<RunningApp> | null = null;

function app(): Promise<RunningApp> {
  return running ??= startApp(CONFIG);
}

Deno.test.afterAll(async () => {
  if (running !== null) await (await running).close();
});

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: uri === undefined, fn });
}

/** Sends a request to the in-process app; returns status and parsed body. */
async function call(
  method: string,
  path: string,
  opts: { body?: unknown; prefer?: string } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const handle = makeHandler((await app()).state);
  const headers = new Headers();
  if (opts.prefer !== undefined) headers.set("Prefer", opts.prefer);
  if (opts.body !== undefined) headers.set("Content-Type", "application/json");
  const res = await handle(
    new Request(`http://localhost${path}`, {
      method,
      headers,
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    }),
  );
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, body, headers: res.headers };
}

async function get(path: string): Promise<unknown> {
  const r = await call("GET", path);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

// ---------------------------------------------------------------- output

test("a represented column is formatted through its json cast", async () => {
  assert.deepEqual(await get("/todos?select=id,color&id=lt.4&order=id"), [
    { id: 1, color: "#000000" },
    { id: 2, color: "#000100" },
    { id: 3, color: "#01E240" },
  ]);
});

test("a formatted column can be renamed and cast on top", async () => {
  assert.deepEqual(await get("/todos?select=c:color&id=eq.2"), [
    { c: "#000100" },
  ]);
  assert.deepEqual(await get("/todos?select=c:color::text&id=eq.2"), [
    { c: '"#000100"' },
  ]);
});

test("nulls go through the format function too", async () => {
  assert.deepEqual(await get("/todos?select=id,name,color&id=eq.4"), [
    { id: 4, name: null, color: "" },
  ]);
});

test("star, implicit star and a star mixed with columns are formatted", async () => {
  const row = { id: 2, name: "Essay", color: "#000100", note: "second" };
  assert.deepEqual(await get("/todos?select=*&id=eq.2"), [row]);
  assert.deepEqual(await get("/todos?id=eq.2"), [row]);
  // the column comes twice (formatted both times); JSON.parse keeps one
  assert.deepEqual(await get("/todos?select=color,*&id=eq.2"), [row]);
});

test("embedded rows are formatted, with a star or listed columns", async () => {
  assert.deepEqual(
    await get("/lists?select=id,todos(color,name)&order=id"),
    [
      { id: 1, todos: { color: "#000100", name: "Essay" } },
      { id: 2, todos: { color: "#000000", name: "Report" } },
    ],
  );
  assert.deepEqual(await get("/lists?select=id,todos(*)&id=eq.1"), [
    {
      id: 1,
      todos: { id: 2, name: "Essay", color: "#000100", note: "second" },
    },
  ]);
});

test("a view's represented columns are formatted", async () => {
  assert.deepEqual(await get("/todos_view?select=id,color,dark&id=eq.2"), [
    { id: 2, color: "#000100", dark: "#000080" },
  ]);
});

test("grouping by a formatted column works with aggregates", async () => {
  assert.deepEqual(
    await get("/todos?select=color,id.count()&id=lt.3&order=color"),
    [{ color: "#000000", count: 1 }, { color: "#000100", count: 1 }],
  );
});

// ---------------------------------------------------------------- filters

test("filter values are parsed through the text cast", async () => {
  assert.deepEqual(await get("/todos?select=id&color=eq.000100"), [{ id: 2 }]);
  assert.deepEqual(await get("/todos?select=id&color=eq.%23000100"), [
    { id: 2 },
  ]);
  assert.deepEqual(await get("/todos?select=id&color=gt.000100&order=id"), [
    { id: 3 },
  ]);
});

test("in and not.in parse every value", async () => {
  assert.deepEqual(
    await get("/todos?select=id&color=in.(000100,01E240)&order=id"),
    [{ id: 2 }, { id: 3 }],
  );
  assert.deepEqual(
    await get("/todos?select=id&color=not.in.(000000,01E240)&order=id"),
    [{ id: 2 }],
  );
  assert.deepEqual(await get("/todos?select=id&color=in.()"), []);
});

test("a filter across a relation parses its value", async () => {
  assert.deepEqual(
    await get(
      "/lists?select=id,todos(color)&todos.color=neq.000100&order=id",
    ),
    [{ id: 1, todos: null }, { id: 2, todos: { color: "#000000" } }],
  );
});

test("a domain without a text cast compares the stored value", async () => {
  assert.deepEqual(await get("/todos?select=id&name=eq.Report"), []);
  assert.deepEqual(await get("/todos?select=id,name&name=eq.report"), [
    { id: 1, name: "Report" },
  ]);
});

test("ilike on a represented column is a PostgreSQL error, not a 500", async () => {
  const r = await call("GET", "/todos?select=id&color=ilike.*100");
  assert.equal(r.status, 404);
  const b = r.body as Record<string, unknown>;
  assert.equal(b["code"], "42883");
  assert.deepEqual(Object.keys(b).sort(), [
    "code",
    "details",
    "hint",
    "message",
  ]);
});

test("a bad filter value is the parser's error, not a 500", async () => {
  const r = await call("GET", "/todos?select=id&color=eq.zz");
  assert.equal(r.status, 400);
  assert.equal((r.body as Record<string, unknown>)["code"], "22P02");
});

// ---------------------------------------------------------------- writes

test("POST parses body values and formats the representation", async () => {
  const r = await call("POST", "/todos", {
    body: { id: 10, name: "party", color: "#001100", note: "x" },
    prefer: "return=representation",
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body, [
    { id: 10, name: "Party", color: "#001100", note: "x" },
  ]);
});

test("POST of several rows and a null parses each value", async () => {
  const r = await call("POST", "/todos?select=id,color", {
    body: [{ id: 11, color: "0000FF" }, { id: 12, color: null }],
    prefer: "return=representation",
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ id: 11, color: "#0000FF" }, {
    id: 12,
    color: "",
  }]);
});

test("POST with ?columns parses only the listed keys", async () => {
  const r = await call("POST", "/todos?columns=id,note&select=id,color,note", {
    body: { id: 13, color: "not a color", note: "kept" },
    prefer: "return=representation",
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  // color takes its default (0), the invalid key is never parsed
  assert.deepEqual(r.body, [{ id: 13, color: "#000000", note: "kept" }]);
});

test("an unparsable body value is the parser's error, not a 500", async () => {
  const r = await call("POST", "/todos", {
    body: { id: 14, color: "zz" },
  });
  assert.equal(r.status, 400);
  assert.equal((r.body as Record<string, unknown>)["code"], "22P02");
});

test("PATCH on a view parses the body and formats the result", async () => {
  const r = await call("PATCH", "/todos_view?id=eq.2&select=id,color,dark", {
    body: { color: "#221100" },
    prefer: "return=representation",
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ id: 2, color: "#221100", dark: "#110880" }]);
});

test("PATCH with ?columns ignores an invalid unlisted key, even when no row matches", async () => {
  const none = await call("PATCH", "/todos?id=eq.999&columns=note", {
    body: { color: "invalid", note: "n" },
    prefer: "return=representation",
  });
  assert.equal(none.status, 200, JSON.stringify(none.body));
  assert.deepEqual(none.body, []);
  const one = await call("PATCH", "/todos?id=eq.1&columns=note", {
    body: { color: "invalid", note: "n" },
    prefer: "return=representation",
  });
  assert.deepEqual(one.body, [
    { id: 1, name: "Report", color: "#000000", note: "n" },
  ]);
});

test("a write's representation can read a computed field of the row", async () => {
  const r = await call("PATCH", "/todos?id=eq.1&select=name,shout", {
    body: { note: "loud" },
    prefer: "return=representation",
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ name: "Report", shout: "LOUD" }]);
});

test("PUT upserts a parsed value", async () => {
  const r = await call("PUT", "/todos?id=eq.3", {
    body: { id: 3, name: "algebra", color: "#ABCDEF", note: null },
    prefer: "return=representation",
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [
    { id: 3, name: "Algebra", color: "#ABCDEF", note: null },
  ]);
});

test("POST with missing=default keeps the default of an absent represented key", async () => {
  const r = await call("POST", "/todos?columns=id,color&select=id,color", {
    body: [{ id: 15, color: "#000001" }, { id: 16 }],
    prefer: "return=representation, missing=default",
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ id: 15, color: "#000001" }, {
    id: 16,
    color: "#000000",
  }]);
});

test("a spread embed lifts formatted columns", async () => {
  assert.deepEqual(
    await get("/lists?select=id,...todos(color,name)&order=id"),
    [
      { id: 1, color: "#000100", name: "Essay" },
      { id: 2, color: "#000000", name: "Report" },
    ],
  );
  assert.deepEqual(await get("/lists?select=id,...todos(*)&id=eq.1"), [
    { id: 2, name: "Essay", color: "#000100", note: "second" },
  ]);
});

test("PATCH and DELETE filters parse their values through the text cast", async () => {
  const patched = await call("PATCH", "/todos?color=eq.000100&select=id", {
    body: { note: "p" },
    prefer: "return=representation",
  });
  assert.deepEqual(patched.body, [{ id: 2 }]);
  const deleted = await call(
    "DELETE",
    "/lists?id=eq.1&select=id",
    { prefer: "return=representation" },
  );
  assert.deepEqual(deleted.body, [{ id: 1 }]);
  const gone = await call(
    "DELETE",
    "/todos?color=in.(01E240)&select=id,color",
    {
      prefer: "return=representation",
    },
  );
  assert.deepEqual(gone.body, [{ id: 3, color: "#01E240" }]);
});
