/**
 * In-process tests of where a request's timeout and its count are decided:
 * the application's handler (src/app.ts) maps a statement cancelled by the
 * `statement_timeout` capped at `server-request-timeout` (57014, after the
 * deadline) to 504 PGRST154 itself, and leaves counting and the access log
 * to the outer handler (src/server.ts), which counts each request once.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`); runs on a scratch
 * database of the shared cluster.
 *
 * @module
 */

import assert from "node:assert/strict";
import { makeHandler as makeAppHandler } from "../../src/app.ts";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, startApp } from "../../src/server.ts";
import { scratchDb, SLOW_SETUP, uri } from "../process/util.ts";

function config(dbUri: string): Config {
  return {
    ...DEFAULT_CONFIG,
    dbUri,
    dbSchemas: ["api"],
    dbAnonRole: "web_anon",
    dbChannelEnabled: false,
    dbPool: 2,
    serverRequestTimeout: 1,
  };
}

function slow(seconds: number): Request {
  return new Request("http://localhost/rpc/slow", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ seconds }),
  });
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: uri === undefined, fn });

test("a statement cancelled by the capped statement_timeout after the deadline answers 504 PGRST154, uncounted by the app handler", async () => {
  await using db = await scratchDb("timeout_map", SLOW_SETUP);
  const app = await startApp(config(db.uri));
  try {
    // the application's handler alone: no request timer races the database
    const res = await makeAppHandler(app.state)(slow(3));
    const body = await res.json();
    assert.equal(res.status, 504, JSON.stringify(body));
    assert.equal(body.code, "PGRST154");
    assert.equal(res.headers.get("proxy-status"), "PostgREST; error=PGRST154");
    assert.equal(app.state.metrics.requests.size, 0);
  } finally {
    await app.close();
  }
});

test("a statement_timeout shorter than server-request-timeout still answers 500 57014", async () => {
  await using db = await scratchDb("timeout_map_short", SLOW_SETUP);
  await db.sql.unsafe(
    `alter role web_anon in database ${db.name} set statement_timeout = '200ms'`,
  );
  const app = await startApp(config(db.uri));
  try {
    const res = await makeHandler(app.state)(slow(2));
    const body = await res.json();
    assert.equal(res.status, 500, JSON.stringify(body));
    assert.equal(body.code, "57014");
    assert.deepEqual([...app.state.metrics.requests], [[500, 1]]);
  } finally {
    await app.close();
  }
});

test("a request past server-request-timeout is counted once, as 504, after its work ends", async () => {
  await using db = await scratchDb("timeout_count", SLOW_SETUP);
  const app = await startApp(config(db.uri));
  try {
    const res = await makeHandler(app.state)(slow(3));
    assert.equal(res.status, 504);
    assert.equal((await res.json()).code, "PGRST154");
    // the abandoned work ends with the cancelled statement soon after
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual([...app.state.metrics.requests], [[504, 1]]);
  } finally {
    await app.close();
  }
});
