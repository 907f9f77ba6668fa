/**
 * Process test for the pool's acquisition timeout (issue "Operations"):
 * with `db-pool` 1 and `db-pool-acquisition-timeout` 1 s, while a slow
 * request (`pg_sleep(3)` via `/rpc/slow`) holds the only connection, a
 * second request gets 504 PGRST003 after about 1 s; the slow request still
 * gets its 200, the pool serves again afterwards, and the admin server's
 * `/metrics` counts the timeout.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`); runs on a scratch
 * database of the shared cluster.
 *
 * @module
 */

import assert from "node:assert/strict";
import { freePort } from "../harness/free_port.ts";
import { startServer } from "../harness/server.ts";
import {
  errorCode,
  json,
  request,
  scratchDb,
  scratchEnv,
  SLOW_SETUP,
  uri,
  waitForSleeper,
} from "./util.ts";

Deno.test({
  name: "pool: with db-pool=1 held by a slow request, a second request gets " +
    "504 PGRST003 after the 1 s acquisition timeout",
  ignore: uri === undefined,
  async fn() {
    await using db = await scratchDb("ops_pool", SLOW_SETUP);
    const adminPort = freePort();
    await using server = await startServer({
      env: {
        ...scratchEnv(db),
        PGRST_DB_POOL: "1",
        PGRST_DB_POOL_ACQUISITION_TIMEOUT: "1",
        PGRST_ADMIN_SERVER_PORT: String(adminPort),
      },
    });
    const slow = request(`${server.url}/rpc/slow`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seconds: 3 }),
    });
    await waitForSleeper(db.sql, db.name);

    const a = await request(`${server.url}/seed`);
    assert.equal(a.status, 504, a.text);
    assert.equal(errorCode(a), "PGRST003");
    assert.equal(
      json<{ message: string }>(a).message,
      "Timed out acquiring connection from connection pool.",
    );
    const took = a.end - a.start;
    assert.ok(took >= 900 && took < 2_500, `answered after ${took} ms`);

    const s = await slow;
    assert.equal(s.status, 200, s.text);
    assert.equal(json(s), "slept");
    const b = await request(`${server.url}/seed`);
    assert.equal(b.status, 200, b.text);
    assert.equal(json<unknown[]>(b).length, 5);

    const metrics = (await request(`http://127.0.0.1:${adminPort}/metrics`))
      .text;
    assert.match(metrics, /^pgrst_db_pool_max 1$/m);
    assert.match(metrics, /^pgrst_db_pool_timeouts_total [1-9]\d*$/m);
    assert.match(metrics, /^pgrst_requests_total\{status="504"\} 1$/m);
  },
});
