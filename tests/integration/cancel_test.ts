/**
 * A client that goes away cancels its running statement: with a pool of one
 * connection and a 2 s acquisition timeout, a request aborted during a 5 s
 * `pg_sleep` frees the connection at once, so the next request is answered
 * instead of waiting for the sleep (which would be 504 PGRST003).
 *
 * Creates its own schema `cancel_probe` (idempotently, as the superuser).
 * Needs PGRST_TEST_DB_URI and PGRST_TEST_DB_SUPER_URI (set by
 * `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, startApp } from "../../src/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const superUri = Deno.env.get("PGRST_TEST_DB_SUPER_URI");

Deno.test({
  name:
    "an aborted request cancels its statement: the pool's one connection is free at once",
  ignore: uri === undefined || superUri === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const su = postgres(superUri!, { onnotice: () => {}, max: 1 });
    try {
      await su.unsafe(`
        create schema if not exists cancel_probe;
        create or replace function cancel_probe.sleep(s double precision)
          returns text language sql volatile as $$ select pg_sleep(s)::text $$;
        create or replace function cancel_probe.ping() returns int
          language sql stable as $$ select 1 $$;
        grant usage on schema cancel_probe to web_anon;
      `);
    } finally {
      await su.end();
    }
    const config: Config = {
      ...DEFAULT_CONFIG,
      dbUri: uri!,
      dbSchemas: ["cancel_probe"],
      dbAnonRole: "web_anon",
      dbPool: 1,
      dbPoolAcquisitionTimeout: 2,
      dbChannelEnabled: false,
    };
    const app = await startApp(config);
    try {
      const handle = makeHandler(app.state);
      const abort = new AbortController();
      const t0 = performance.now();
      const slow = handle(
        new Request("http://localhost/rpc/sleep?s=5", {
          signal: abort.signal,
        }),
      ).then((r) => r.status, () => 0);
      await new Promise((r) => setTimeout(r, 300));
      abort.abort();
      const res = await handle(new Request("http://localhost/rpc/ping"));
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(await res.text(), "1");
      const elapsed = performance.now() - t0;
      assert.ok(elapsed < 3000, `the next request waited ${elapsed} ms`);
      // the cancelled call itself ends (57014 is a 500 in PostgREST)
      assert.notEqual(await slow, 200);
    } finally {
      await app.close();
    }
  },
});
