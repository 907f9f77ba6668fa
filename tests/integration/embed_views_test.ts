/**
 * Relationships through views against the fixture schema `embed_views`
 * (tests/fixtures/embed_views.sql), with the app built in-process like
 * embed_test.ts: a view exposing a foreign key's columns twice (one
 * relationship per choice, ambiguous in PostgREST's order), a view exposing
 * a self-reference's column twice (each column embeds its parent), a
 * many-to-many through a view of a junction whose table is not exposed, the
 * Location of an insert into a view over a join (both tables' keys),
 * full-text search on a domain over a tsvector domain, and count=estimated
 * (exact up to db-max-rows + 1, the planner's guess only when larger).
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
  dbSchemas: ["embed_views"],
  dbAnonRole: "web_anon",
  dbPool: 2,
  dbTxEnd: "rollback",
};

let running: Promise<RunningApp> | null = null;
let limited: Promise<RunningApp> | null = null;

Deno.test.afterAll(async () => {
  if (running !== null) await (await running).close();
  if (limited !== null) await (await limited).close();
});

async function request(
  path: string,
  init: RequestInit = {},
  maxRows: number | null = null,
) {
  const app = maxRows === null
    ? await (running ??= startApp(CONFIG))
    : await (limited ??= startApp({ ...CONFIG, dbMaxRows: maxRows }));
  assert.ok(app.state.cache !== null, "the schema cache is loaded");
  return await makeHandler(app.state)(
    new Request(`http://localhost${path}`, init),
  );
}

/** GETs the path, asserts the status and returns the parsed body. */
async function getJson(path: string, status = 200): Promise<unknown> {
  const res = await request(path);
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text);
}

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: uri === undefined, fn });
}

test("a view exposing FK columns twice is ambiguous: one relationship per column choice", async () => {
  const body = await getJson("/children2?select=*,parents(*)", 300) as {
    code: string;
    details: { relationship: string }[];
  };
  assert.equal(body.code, "PGRST201");
  assert.deepEqual(body.details.map((d) => d.relationship), [
    "children_p_a_p_b_fkey using children2(a1, b1) and parents(a, b)",
    "children_p_a_p_b_fkey using children2(a1, b2) and parents(a, b)",
    "children_p_a_p_b_fkey using children2(a2, b1) and parents(a, b)",
    "children_p_a_p_b_fkey using children2(a2, b2) and parents(a, b)",
  ]);
});

test("each view column exposing a self-reference's column embeds its parent by name", async () => {
  assert.deepEqual(
    await getJson(
      "/nodes_a?select=id,parent(id),grandparent(id)&order=id",
    ),
    [
      { id: 2, parent: null, grandparent: null },
      { id: 3, parent: { id: 2 }, grandparent: null },
      { id: 4, parent: { id: 3 }, grandparent: { id: 2 } },
    ],
  );
});

test("a view of a junction whose table is not exposed joins two views many-to-many", async () => {
  assert.deepEqual(
    await getJson(
      "/screens?select=name,labels(name)&order=id&labels.order=id",
    ),
    [
      { name: "home", labels: [{ name: "fruit" }, { name: "vehicles" }] },
      { name: "settings", labels: [{ name: "vehicles" }] },
    ],
  );
});

test("an insert into a view over a join locates the row by both tables' keys", async () => {
  const res = await request("/competitors_sponsors", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "Prefer": "return=headers-only",
    },
    body: JSON.stringify({ id: 7, sponsor_id: null }),
  });
  await res.body?.cancel();
  assert.equal(res.status, 201);
  assert.equal(
    res.headers.get("Location"),
    "/competitors_sponsors?id=eq.7&sponsor_id=is.null",
  );
});

test("fts on a domain over a tsvector domain uses the column as the vector", async () => {
  assert.deepEqual(
    await getJson("/docs?select=id&body=fts(simple).impossible"),
    [{ id: 1 }],
  );
  assert.deepEqual(
    await getJson("/docs?select=id&body=phfts(simple).to%20see"),
    [{ id: 2 }],
  );
});

test("count=estimated counts exactly up to db-max-rows + 1 and keeps that over a smaller planner guess", async () => {
  const res = await request("/nodes_above_one", {
    method: "HEAD",
    headers: { Prefer: "count=estimated" },
  }, 2);
  await res.body?.cancel();
  assert.equal(res.status, 206);
  assert.equal(res.headers.get("Content-Range"), "0-1/3");
});

test("count=estimated without db-max-rows counts exactly when the planner guesses less", async () => {
  const res = await request("/nodes_above_one", {
    headers: { Prefer: "count=estimated" },
  });
  await res.body?.cancel();
  assert.equal(res.headers.get("Content-Range"), "0-3/4");
});
