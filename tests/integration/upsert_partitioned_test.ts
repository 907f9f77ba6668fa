/**
 * Upserts on a partitioned table (fixture tests/fixtures/upsert_partitioned.sql),
 * whose rows have no `xmax` in RETURNING: PUT answers 200 when it updated
 * the row and 201 when it inserted one, and a merging POST 200 when it only
 * updated. Every request is rolled back (db-tx-end=rollback).
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
  dbSchemas: ["upsert_part"],
  dbAnonRole: "web_anon",
  dbPool: 2,
  dbTxEnd: "rollback",
};

let running: Promise<RunningApp> | null = null;

Deno.test.afterAll(async () => {
  if (running !== null) await (await running).close();
});

async function send(
  method: string,
  path: string,
  body: unknown,
  prefer: string,
): Promise<{ status: number; body: unknown }> {
  running ??= startApp(CONFIG);
  const app = await running;
  const res = await makeHandler(app.state)(
    new Request(`http://localhost${path}`, {
      method,
      headers: { "Content-Type": "application/json", "Prefer": prefer },
      body: JSON.stringify(body),
    }),
  );
  const text = await res.text();
  return { status: res.status, body: text === "" ? null : JSON.parse(text) };
}

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: uri === undefined, fn });
}

test("PUT on a partitioned table answers 200 when it updates the row", async () => {
  const res = await send(
    "PUT",
    "/models?name=eq.DeLorean&year=eq.1981",
    [{ name: "DeLorean", year: 1981, brand: null }],
    "return=representation",
  );
  assert.deepEqual(res, {
    status: 200,
    body: [{ name: "DeLorean", year: 1981, brand: null }],
  });
});

test("PUT on a partitioned table answers 201 when it inserts the row", async () => {
  const res = await send(
    "PUT",
    "/models?name=eq.Testarossa&year=eq.1997",
    [{ name: "Testarossa", year: 1997, brand: "Ferrari" }],
    "return=representation",
  );
  assert.equal(res.status, 201);
});

test("a merging POST on a partitioned table answers 200 when it only updates", async () => {
  const updated = await send(
    "POST",
    "/models",
    [{ name: "DeLorean", year: 1981, brand: "X" }],
    "resolution=merge-duplicates,return=representation",
  );
  assert.equal(updated.status, 200);
  const inserted = await send(
    "POST",
    "/models",
    [{ name: "DeLorean", year: 1981, brand: "X" }, {
      name: "Countach",
      year: 2020,
      brand: "Lamborghini",
    }],
    "resolution=merge-duplicates,return=representation",
  );
  assert.equal(inserted.status, 201);
});
