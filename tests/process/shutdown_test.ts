/**
 * Process tests for graceful shutdown (issue "Operations"): SIGTERM while a
 * slow request (`/rpc/slow`, `pg_sleep(2)`) runs. New connections are
 * refused at once, the slow request still gets its 200, and the process
 * exits 0 soon after, also with an idle keep-alive connection open.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`); runs on a scratch
 * database of the shared cluster.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startServer } from "../harness/server.ts";
import {
  exitWithin,
  json,
  rawRequest,
  request,
  scratchDb,
  scratchEnv,
  SLOW_SETUP,
  uri,
  waitFor,
  waitForSleeper,
} from "./util.ts";

/** Resolves with the time new TCP connections are first refused. */
function refused(port: number): Promise<number> {
  return waitFor(
    "new connections to be refused",
    async () => {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
        return undefined;
      } catch (e) {
        if (e instanceof Deno.errors.ConnectionRefused) {
          return performance.now();
        }
        throw e;
      }
    },
    1_500,
    20,
  );
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test({
    name: `shutdown: ${signal} during a slow request refuses new ` +
      "connections, still answers the request 200 and exits 0",
    ignore: uri === undefined,
    async fn() {
      await using db = await scratchDb("ops_shutdown", SLOW_SETUP);
      await using server = await startServer({ env: scratchEnv(db) });
      // an idle keep-alive connection must not hold the exit up
      using idle = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
      });
      const first = await rawRequest(
        idle,
        "GET /seed?id=eq.1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
      );
      assert.equal(first.status, 200, first.body);

      const slow = request(`${server.url}/rpc/slow`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ seconds: 2 }),
      });
      await waitForSleeper(db.sql, db.name);
      const signalled = performance.now();
      server.process.kill(signal);

      const refusedAt = await refused(server.port);
      const a = await slow;
      assert.equal(a.status, 200, a.text);
      assert.equal(json(a), "slept");
      assert.ok(
        refusedAt < a.end,
        "new connections were accepted until the slow request ended",
      );
      assert.ok(refusedAt - signalled < 1_000);

      const status = await exitWithin(server.process, 5_000);
      assert.ok(
        status !== null,
        `no exit 5 s after the request:\n${server.output()}`,
      );
      assert.equal(status.code, 0, server.output());
      assert.ok(
        performance.now() - a.end < 5_000,
      );
    },
  });
}
