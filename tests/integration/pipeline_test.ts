/**
 * Requests sharing a connection (wire_pool.ts, wire_connection.ts): when
 * every connection is busy, a whole implicit transaction joins a busy one
 * and its batch is pipelined behind the others'. These tests drive the pool
 * and the connection directly against the test database.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseConnectOptions } from "../../src/db/connect_options.ts";
import { WirePool } from "../../src/db/wire_pool.ts";
import type { WireConnection } from "../../src/db/wire_connection.ts";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, startApp } from "../../src/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");

/**
 * A pool for these tests; a request joins a busy connection whatever its
 * batch's age unless `joinMaxAgeMs` says otherwise (no timing races).
 */
function pool(
  max: number,
  pipelineDepth: number,
  joinMaxAgeMs = 60_000,
): WirePool {
  return new WirePool(
    parseConnectOptions(uri!, {
      applicationName: "pgrest-pipeline-test",
      connectTimeoutSeconds: 10,
    }),
    {
      max,
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
      acquireTimeoutMs: 5000,
      pipelineDepth,
      joinMaxAgeMs,
    },
  );
}

const opts = {
  ignore: uri === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
};

/** An acquisition, and whether it has been answered yet. */
function watched(
  acquiring: Promise<WireConnection>,
): {
  readonly answered: () => boolean;
  readonly conn: Promise<WireConnection>;
} {
  let answered = false;
  const conn = acquiring.then((c) => {
    answered = true;
    return c;
  });
  return { answered: () => answered, conn };
}

/** Opens the pool's connections and gives them back idle. */
async function warm(p: WirePool, n: number): Promise<void> {
  const held: WireConnection[] = [];
  for (let i = 0; i < n; i++) held.push(await p.acquire());
  for (const c of held) p.release(c, true);
}

Deno.test({
  ...opts,
  name:
    "a sharing request joins a busy connection and both batches answer, in order",
  async fn() {
    const p = pool(1, 4);
    try {
      await warm(p, 1);
      const a = await p.acquire(true);
      const ra = a.run([{
        text: "SELECT pg_sleep(0.05), 'a' AS v",
        params: [],
      }], true);
      const b = await p.acquire(true);
      assert.equal(b, a, "the second request shares the one connection");
      assert.equal(a.pending, 1);
      const rb = b.run([{ text: "SELECT $1::text AS v", params: ["b"] }], true);
      assert.equal(a.pending, 2, "both batches are in flight at once");
      const [resA, resB] = await Promise.all([ra, rb]);
      assert.equal(resA.rows[0]?.[0]?.v, "a");
      assert.equal(resB.rows[0]?.[0]?.v, "b");
      p.release(a, true);
      p.release(b, true);
      assert.deepEqual(p.stats().inUse, 0);
    } finally {
      p.close();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "an exclusive request waits for a free connection; it never joins a busy one",
  async fn() {
    const p = pool(1, 4);
    try {
      await warm(p, 1);
      const a = await p.acquire(true);
      const exclusive = watched(p.acquire(false));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(exclusive.answered(), false, "the exclusive request waits");
      // and a sharing request does not overtake a waiter
      const later = watched(p.acquire(true));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(later.answered(), false, "no one joins while someone waits");
      p.release(a, true);
      const c = await exclusive.conn;
      assert.equal(c.shared, false);
      p.release(c, true);
      p.release(await later.conn, true);
    } finally {
      p.close();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "a connection whose batch runs long takes no one else: the request waits for a free one",
  async fn() {
    const p = pool(1, 4, 20);
    try {
      await warm(p, 1);
      const a = await p.acquire(true);
      const ra = a.run([{ text: "SELECT pg_sleep(0.2)", params: [] }], true);
      await new Promise((r) => setTimeout(r, 60));
      const b = watched(p.acquire(true));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(b.answered(), false);
      await ra;
      p.release(a, true);
      p.release(await b.conn, true);
    } finally {
      p.close();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "a batch behind one that fails before preparing a statement still runs that statement",
  async fn() {
    const p = pool(1, 4);
    try {
      await warm(p, 1);
      const a = await p.acquire(true);
      const shared = "SELECT $1::int + 1 AS n";
      // the first statement fails, so the Parse of `shared` is skipped
      const ra = a.run([
        { text: "SELECT 1/0", params: [] },
        { text: shared, params: [1] },
      ], true);
      const b = await p.acquire(true);
      assert.equal(b, a);
      const rb = b.run([{ text: shared, params: [41] }], true);
      const [resA, resB] = await Promise.all([ra, rb]);
      assert.equal(resA.error?.code, "22012");
      assert.equal(resB.error, null, resB.error?.message);
      assert.equal(resB.rows[0]?.[0]?.n, 42);
      // and later batches prepare it afresh
      const again = await a.run([{ text: shared, params: [9] }], true);
      assert.equal(again.rows[0]?.[0]?.n, 10);
      p.release(a, true);
      p.release(b, true);
    } finally {
      p.close();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "a cancel names its batch: another request's batch on the shared connection runs on",
  async fn() {
    const p = pool(1, 4);
    try {
      await warm(p, 1);
      const a = await p.acquire(true);
      const tokenA = {};
      const tokenB = {};
      const t0 = performance.now();
      const ra = a.run(
        [{ text: "SELECT pg_sleep(0.4) AS s", params: [] }],
        true,
        {
          token: tokenA,
          retryable: true,
        },
      );
      const b = await p.acquire(true);
      assert.equal(b, a);
      const rb = b.run([{ text: "SELECT 'b' AS v", params: [] }], true, {
        token: tokenB,
        retryable: true,
      });
      // B has not started: cancelling it must not cancel A
      await b.cancel(tokenB);
      const resA = await ra;
      assert.equal(resA.error, null, "A ran to its end");
      assert.ok(performance.now() - t0 >= 390);
      assert.equal((await rb).rows[0]?.[0]?.v, "b");
      // A's own cancel stops A
      const ra2 = a.run([{ text: "SELECT pg_sleep(5)", params: [] }], true, {
        token: tokenA,
        retryable: true,
      });
      await new Promise((r) => setTimeout(r, 50));
      await a.cancel(tokenA);
      assert.equal((await ra2).error?.code, "57014");
      p.release(a, true);
      p.release(b, true);
    } finally {
      p.close();
    }
  },
});

Deno.test({
  ...opts,
  name: "pipelineDepth 1: requests never share a connection",
  async fn() {
    const p = pool(1, 1);
    try {
      await warm(p, 1);
      const a = await p.acquire(true);
      const b = watched(p.acquire(true));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(b.answered(), false);
      p.release(a, true);
      p.release(await b.conn, true);
    } finally {
      p.close();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "through the app: concurrent requests on one shared connection each get their own answer, errors included",
  async fn() {
    const config: Config = {
      ...DEFAULT_CONFIG,
      dbUri: uri!,
      dbSchemas: ["api"],
      dbAnonRole: "web_anon",
      dbPool: 1,
      dbPoolPipeline: 8,
      dbChannelEnabled: false,
    };
    const app = await startApp(config);
    try {
      const handle = makeHandler(app.state);
      const paths = Array.from(
        { length: 40 },
        (_, i) =>
          i % 5 === 4
            ? "/items?id=eq.not_a_number" // 400 from PostgreSQL (22P02)
            : `/items?id=eq.${(i % 3) + 1}&select=id`,
      );
      const answers = await Promise.all(paths.map(async (p) => {
        const res = await handle(new Request(`http://localhost${p}`));
        return { p, status: res.status, body: await res.json() };
      }));
      for (const a of answers) {
        if (a.p.endsWith("not_a_number")) {
          assert.equal(a.status, 400, JSON.stringify(a));
          assert.equal(a.body.code, "22P02");
        } else {
          assert.equal(a.status, 200, JSON.stringify(a));
          const id = Number(/eq\.(\d+)/.exec(a.p)![1]);
          assert.deepEqual(a.body, [{ id }]);
        }
      }
    } finally {
      await app.close();
    }
  },
});

Deno.test({
  ...opts,
  ignore: uri === undefined ||
    Deno.env.get("PGRST_TEST_DB_SUPER_URI") === undefined,
  name:
    "a pipelined batch hit by a cancel meant for the batch before it runs again",
  async fn() {
    const { default: postgres } = await import("postgres");
    const su = postgres(Deno.env.get("PGRST_TEST_DB_SUPER_URI")!, {
      max: 1,
      onnotice: () => {},
    });
    const p = pool(1, 4);
    try {
      await warm(p, 1);
      const a = await p.acquire(true);
      const tokenA = {};
      const ra = a.run([{ text: "SELECT pg_sleep(5)", params: [] }], true, {
        token: tokenA,
        retryable: true,
      });
      const b = await p.acquire(true);
      assert.equal(b, a);
      const rb = b.run(
        [{ text: "SELECT pg_sleep(0.3), 'b' AS v", params: [] }],
        true,
        {
          token: {},
          retryable: true,
        },
      );
      await new Promise((r) => setTimeout(r, 50));
      await a.cancel(tokenA);
      assert.equal((await ra).error?.code, "57014");
      // B runs now; a cancel that reaches the backend late (here sent by
      // hand) hits B instead of A, which ended
      await new Promise((r) => setTimeout(r, 100));
      await su`select pg_cancel_backend(${a.backendPid})`;
      const resB = await rb;
      assert.equal(resB.error, null, resB.error?.message);
      assert.equal(resB.rows[0]?.[0]?.v, "b");
      p.release(a, true);
      p.release(b, true);
    } finally {
      p.close();
      await su.end();
    }
  },
});
