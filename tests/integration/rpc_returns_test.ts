/**
 * What functions return, against the fixture schema `rpc_returns`
 * (tests/fixtures/rpc_returns.sql), with the app built in-process like
 * embed_test.ts: a bare `record` and `setof record` (called as scalars, as
 * PostgREST does: no column definition list), a set of a domain over a
 * table's row type (that table's rows, with embeds), JSON paths on a
 * composite column of a function's TABLE, and count=estimated on a
 * function without db-max-rows (the exact count, not the planner's 1000).
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
  dbSchemas: ["rpc_returns"],
  dbAnonRole: "web_anon",
  dbPool: 2,
};

let running: Promise<RunningApp> | null = null;
/** The same, with db-max-rows 1. */
let limited: Promise<RunningApp> | null = null;

Deno.test.afterAll(async () => {
  if (running !== null) await (await running).close();
  if (limited !== null) await (await limited).close();
});

async function request(path: string, init: RequestInit = {}, maxRows = false) {
  const app =
    await (maxRows
      ? limited ??= startApp({ ...CONFIG, dbMaxRows: 1 })
      : running ??= startApp(CONFIG));
  assert.ok(app.state.cache !== null, "the schema cache is loaded");
  return await makeHandler(app.state)(
    new Request(`http://localhost${path}`, init),
  );
}

/** Sends the request, asserts the status and returns the parsed body. */
async function json(
  path: string,
  init: RequestInit = {},
  status = 200,
): Promise<unknown> {
  const res = await request(path, init);
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text);
}

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: uri === undefined, fn });
}

test("a function returning a bare record answers one JSON object", async () => {
  assert.deepEqual(await json("/rpc/one_record"), {
    id: 1,
    name: "Windows 7",
    client_id: 1,
  });
  assert.deepEqual(await json("/rpc/one_record", { method: "POST" }), {
    id: 1,
    name: "Windows 7",
    client_id: 1,
  });
});

test("a function returning setof record answers an array of objects", async () => {
  assert.deepEqual(await json("/rpc/some_records", { method: "POST" }), [
    { id: 1, name: "Windows 7", client_id: 1 },
    { id: 2, name: "Office", client_id: 1 },
  ]);
});

test("a function returning a domain over a table's row type embeds like the table", async () => {
  assert.deepEqual(
    await json("/rpc/project_domain?id=1&select=id,name,client:clients(name)"),
    [{ id: 1, name: "Windows 7", client: { name: "Microsoft" } }],
  );
});

test("JSON paths on a composite column of a function's TABLE select, filter and order", async () => {
  assert.deepEqual(
    await json(
      "/rpc/complexes?select=val->r&val->i=gt.0.55&order=val->>i.desc",
    ),
    [{ r: 0.3 }, { r: 0.2 }],
  );
});

test("count=estimated on a function without db-max-rows is the exact count, not the planner's guess", async () => {
  const res = await request("/rpc/all_projects", {
    headers: { Prefer: "count=estimated" },
  });
  await res.body?.cancel();
  assert.equal(res.headers.get("Content-Range"), "0-1/2");
});

test("with db-max-rows, a function's count=estimated is still its exact count and count=planned gives none, as PostgREST", async () => {
  const estimated = await request("/rpc/all_projects", {
    headers: { Prefer: "count=estimated" },
  }, true);
  await estimated.body?.cancel();
  assert.equal(estimated.headers.get("Content-Range"), "0-0/2");
  const planned = await request("/rpc/all_projects", {
    headers: { Prefer: "count=planned" },
  }, true);
  await planned.body?.cancel();
  assert.equal(planned.headers.get("Content-Range"), "0-0/*");
});
