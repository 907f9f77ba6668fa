/**
 * Integration tests for POST bodies of function calls (`/rpc/<fn>`), over
 * the whole request path (the app built in-process with `startApp` +
 * `makeHandler`): CSV, JSON arrays, forms and raw text are read with the
 * table-write rules, an unknown Content-Type is a PostgREST-style 400, and
 * functions no request can call are neither found nor suggested.
 *
 * Everything runs in the `rpc_body` schema (tests/fixtures/rpc_body.sql).
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
  dbSchemas: ["rpc_body"],
  dbAnonRole: "web_anon",
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

async function post(
  fn: string,
  body: string,
  contentType: string | null,
): Promise<{ status: number; json: unknown }> {
  const headers = new Headers();
  if (contentType !== null) headers.set("Content-Type", contentType);
  const res = await makeHandler((await app()).state)(
    new Request(`http://localhost/rpc/${fn}`, {
      method: "POST",
      headers,
      // bytes, so that no Content-Type is added when none is given
      body: new TextEncoder().encode(body),
    }),
  );
  return { status: res.status, json: JSON.parse(await res.text()) };
}

test("POST /rpc with a CSV body passes NULL as null and an empty field as ''", async () => {
  const r = await post("args", "a,b\nNULL,\n", "text/csv");
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { a: null, b: "", a_null: true, b_null: false });
});

test("POST /rpc with a CSV body whose rows differ in length is 400 PGRST102", async () => {
  const r = await post("args", "a,b\n1,2\n3\n", "text/csv");
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, {
    code: "PGRST102",
    details: null,
    hint: null,
    message: "All lines must have same number of fields",
  });
});

test("POST /rpc with a JSON array calls the function with the first object", async () => {
  const r = await post("args", '[{"a":"1","b":"2"},{"a":"3","b":"4"}]', null);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { a: "1", b: "2", a_null: false, b_null: false });
});

test("POST /rpc with a JSON array whose objects have other keys is 400 PGRST102", async () => {
  const r = await post("args", '[{"a":"1"},{"b":"2"}]', "application/json");
  assert.equal(r.status, 400);
  assert.equal(
    (r.json as { message: string }).message,
    "All object keys must match",
  );
});

test("POST /rpc with an unknown Content-Type is 400 PGRST102 Content-Type not acceptable", async () => {
  const r = await post("args", '{"a":"1"}', "application/x-unknown; q=1");
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, {
    code: "PGRST102",
    details: null,
    hint: null,
    message: "Content-Type not acceptable: application/x-unknown",
  });
});

test("POST /rpc with a text/plain body in upper case calls the single unnamed text parameter", async () => {
  const r = await post("unnamed_text", "hello", "TEXT/PLAIN; charset=utf-8");
  assert.equal(r.status, 200);
  assert.equal(r.json, "hello");
});

test("POST /rpc to a function with a single unnamed integer parameter is 404 and suggests a callable function", async () => {
  const r = await post("unnamed_int", '{"x":1}', "application/json");
  assert.equal(r.status, 404);
  assert.equal(
    (r.json as { hint: string | null }).hint,
    "Perhaps you meant to call the function rpc_body.unnamed_text",
  );
});

test("POST /rpc with a JSON body over 256 KiB (parsed on the worker thread) calls the function with its first object", async () => {
  const big = "x".repeat(300 * 1024);
  const one = await post("args", JSON.stringify({ a: big, b: "2" }), null);
  assert.equal(one.status, 200);
  assert.deepEqual(one.json, { a: big, b: "2", a_null: false, b_null: false });
  const rows = Array.from({ length: 5000 }, (_, i) => ({
    a: `a${i} ${"y".repeat(60)}`,
    b: String(i),
  }));
  const many = await post("args", JSON.stringify(rows), "application/json");
  assert.equal(many.status, 200);
  assert.deepEqual(many.json, {
    a: rows[0]?.a,
    b: "0",
    a_null: false,
    b_null: false,
  });
  const differing = await post(
    "args",
    JSON.stringify([...rows, { a: "1", c: "2" }]),
    "application/json",
  );
  assert.equal(differing.status, 400);
  assert.equal(
    (differing.json as { message: string }).message,
    "All object keys must match",
  );
});
