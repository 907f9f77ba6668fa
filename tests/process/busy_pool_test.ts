/**
 * Process tests of a busy database told apart from a down one, and of
 * counting a timed-out request once:
 *
 * - with `db-pool` 1 held by a slow request, the admin server's `/ready`
 *   finds no free connection (503), but that does not mark the database
 *   down: a request that then times out on the pool still gets 504
 *   PGRST003, not 503 PGRST001, and `/ready` is 200 again once the slow
 *   request is done;
 * - a schema reload after the LISTEN connection came back, which finds the
 *   pool busy, is tried again until it succeeds (the NOTIFYs it stands for
 *   are lost), so the cache is not left stale;
 * - a request past `server-request-timeout` is counted once in `/metrics`
 *   and written once to the access log, as the 504 it got, although its
 *   work (the cancelled statement, 57014) ends after the answer.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`); runs on scratch
 * databases of the shared cluster.
 *
 * @module
 */

import assert from "node:assert/strict";
import { freePort } from "../harness/free_port.ts";
import { startServer } from "../harness/server.ts";
import {
  errorCode,
  request,
  scratchDb,
  scratchEnv,
  SLOW_SETUP,
  uri,
  waitFor,
  waitForSleeper,
} from "./util.ts";

Deno.test({
  name: "busy pool: a readiness probe that finds the pool busy does not " +
    "mark the database down (a pool timeout stays 504 PGRST003)",
  ignore: uri === undefined,
  async fn() {
    await using db = await scratchDb("ops_busy", SLOW_SETUP);
    const adminPort = freePort();
    await using server = await startServer({
      env: {
        ...scratchEnv(db),
        PGRST_DB_POOL: "1",
        PGRST_DB_POOL_ACQUISITION_TIMEOUT: "1",
        PGRST_ADMIN_SERVER_PORT: String(adminPort),
      },
    });
    const admin = `http://127.0.0.1:${adminPort}`;
    const slow = request(`${server.url}/rpc/slow`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seconds: 4 }),
    });
    await waitForSleeper(db.sql, db.name);

    const ready = await request(`${admin}/ready`);
    assert.equal(ready.status, 503, "not ready while the pool is busy");

    const a = await request(`${server.url}/seed`);
    assert.equal(a.status, 504, a.text);
    assert.equal(errorCode(a), "PGRST003");
    assert.equal(a.headers.get("retry-after"), null);

    const s = await slow;
    assert.equal(s.status, 200, s.text);
    const b = await request(`${server.url}/seed`);
    assert.equal(b.status, 200, b.text);
    assert.equal((await request(`${admin}/ready`)).status, 200);
  },
});

Deno.test({
  name: "request timeout: a request past server-request-timeout is counted " +
    "once in /metrics and logged once, as the 504 it got",
  ignore: uri === undefined,
  async fn() {
    await using db = await scratchDb("ops_timeout_count", SLOW_SETUP);
    const adminPort = freePort();
    await using server = await startServer({
      env: {
        ...scratchEnv(db),
        PGRST_SERVER_REQUEST_TIMEOUT: "1",
        PGRST_ADMIN_SERVER_PORT: String(adminPort),
      },
    });
    const admin = `http://127.0.0.1:${adminPort}`;
    const a = await request(`${server.url}/rpc/slow`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seconds: 3 }),
    });
    assert.equal(a.status, 504, a.text);
    assert.equal(errorCode(a), "PGRST154");

    // the abandoned work ends (its statement cancelled at the same second)
    // and frees its connection
    await waitFor("the slow statement to end", async () => {
      const [row] = await db.sql`select count(*)::int as n
        from pg_stat_activity
        where datname = ${db.name} and wait_event = 'PgSleep'`;
      return (row?.n as number) === 0 ? true : undefined;
    });
    const b = await request(`${server.url}/seed`);
    assert.equal(b.status, 200, b.text);
    await new Promise((r) => setTimeout(r, 300));

    const metrics = (await request(`${admin}/metrics`)).text;
    assert.match(metrics, /^pgrst_requests_total\{status="504"\} 1$/m);
    assert.doesNotMatch(metrics, /^pgrst_requests_total\{status="500"\}/m);

    const lines = server.output().split("\n")
      .filter((l) => l.includes('"POST /rpc/slow HTTP/1.1"'));
    assert.equal(lines.length, 1, server.output());
    assert.match(lines[0] ?? "", /" 504 "/);
  },
});

Deno.test({
  name: "listener reconnect: a reload that finds the pool busy is retried " +
    "until the schema cache is fresh",
  ignore: uri === undefined,
  async fn() {
    await using db = await scratchDb("ops_listen_busy", SLOW_SETUP);
    await using server = await startServer({
      env: {
        ...scratchEnv(db),
        PGRST_DB_POOL: "1",
        PGRST_DB_POOL_ACQUISITION_TIMEOUT: "1",
      },
    });
    const slow = request(`${server.url}/rpc/slow`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seconds: 3 }),
    });
    await waitForSleeper(db.sql, db.name);
    // a table the cache does not know yet, and no NOTIFY for it: only the
    // reload after the listener's reconnect can find it
    await db.sql.unsafe(`create table api.later (id int);
      grant select on api.later to web_anon`);
    const [killed] = await db.sql`select count(pg_terminate_backend(pid))::int
      as n from pg_stat_activity
      where datname = ${db.name} and query ilike 'listen%'`;
    assert.equal(killed?.n, 1, "the LISTEN connection was found");
    assert.equal((await slow).status, 200);
    const later = await waitFor(
      "the cache to know api.later",
      async () => {
        const r = await request(`${server.url}/later`);
        return r.status === 200 ? r : undefined;
      },
      15_000,
      200,
    );
    assert.equal(later.text, "[]");
  },
});
