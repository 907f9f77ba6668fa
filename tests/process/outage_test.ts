/**
 * Process tests for a database outage (issue "Operations"), each on a
 * private cluster (tests/harness/with_pg.ts `fresh: true`) that the test
 * stops and starts again while main.ts (`db-pool-acquisition-timeout` 2 s,
 * admin server on) runs against it:
 *
 * - PostgreSQL stopped while pgrest is idle: reads and writes during the
 *   outage fail within ~3 s as unavailable (503 PGRST000/001/002 with
 *   `Retry-After`, or 504 PGRST003), `/ready` is 503; once PostgreSQL is
 *   back requests succeed again, every committed write is still there and
 *   the process is still running;
 * - `/ready` turns 503 when PostgreSQL stops, even without API traffic;
 * - (ignored, BUG) the strict form with a stream of reads and writes running
 *   through the stop: every request while PostgreSQL is down is 503
 *   PGRST00x with `Retry-After`, none is 500, requests succeed within 2 s of
 *   PostgreSQL being back, no acknowledged write is lost, the process
 *   survives and SIGTERM exits 0 promptly;
 * - (ignored, BUG) `NOTIFY pgrst` reloads soon after a longer outage.
 *
 * Needs PostgreSQL binaries (see with_pg.ts); runs with or without
 * PGRST_TEST_DB_URI.
 *
 * @module
 */

import assert from "node:assert/strict";
import { freePort } from "../harness/free_port.ts";
import {
  FIXTURE_ENV,
  startServer,
  type TestServer,
} from "../harness/server.ts";
import { startTestCluster, type TestCluster } from "../harness/with_pg.ts";
import {
  type Answer,
  connect,
  errorCode,
  exitWithin,
  request,
  sleep,
  tryRequest,
  waitFor,
} from "./util.ts";

/** PostgREST's "database unavailable" codes. */
const UNAVAILABLE = ["PGRST000", "PGRST001", "PGRST002"];

const SETUP = `
  create table api.outage_log (id serial primary key, note text not null);
  grant select, insert on api.outage_log to web_anon;
  grant usage on sequence api.outage_log_id_seq to web_anon;
`;

/** A private cluster with api.outage_log, and pgrest (with admin) on it. */
interface Setup extends AsyncDisposable {
  readonly cluster: TestCluster;
  readonly server: TestServer;
  /** The admin server's base URL. */
  readonly admin: string;
}

async function setUp(): Promise<Setup> {
  const cluster = await startTestCluster({ fresh: true });
  try {
    const sql = connect(cluster.superUri);
    try {
      await sql.unsafe(SETUP).simple();
    } finally {
      await sql.end();
    }
    const adminPort = freePort();
    const server = await startServer({
      env: {
        ...FIXTURE_ENV,
        PGRST_DB_URI: cluster.uri,
        PGRST_DB_POOL: "4",
        PGRST_DB_POOL_ACQUISITION_TIMEOUT: "2",
        PGRST_DB_TX_END: "commit-allow-override",
        PGRST_ADMIN_SERVER_PORT: String(adminPort),
      },
    });
    return {
      cluster,
      server,
      admin: `http://127.0.0.1:${adminPort}`,
      async [Symbol.asyncDispose]() {
        await server.stop("SIGTERM", 3_000);
        await cluster.stop();
      },
    };
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

/** A request of the stream. */
interface Sent extends Answer {
  readonly method: string;
  /** The note a POST inserts. */
  readonly note: string | null;
}

/** What happened during {@linkcode outage}. */
interface Outage {
  readonly sent: readonly Sent[];
  /** How many notes were POSTed (w0, w1, …). */
  readonly posted: number;
  /** `/ready` during the outage. */
  readonly readyDuring: readonly number[];
  /** Monotonic ms: stop requested, stopped, start requested, accepting. */
  readonly downStart: number;
  readonly down: number;
  readonly upStart: number;
  readonly up: number;
  /** One line about a request, for assertion messages. */
  show(a: Sent): string;
}

/**
 * Commits 10 writes, then runs a stream of GETs and POSTs from two clients
 * while PostgreSQL is stopped for `outageMs` and started again, and for
 * `afterMs` after that.
 */
async function outage(
  s: Setup,
  outageMs: number,
  afterMs: number,
): Promise<Outage> {
  let posted = 0;
  const post = async (): Promise<Sent> => {
    const note = `w${posted++}`;
    const a = await tryRequest(`${s.server.url}/outage_log`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Prefer: "tx=commit" },
      body: JSON.stringify({ note }),
    });
    return { ...a, method: "POST", note };
  };
  const get = async (): Promise<Sent> => ({
    ...await tryRequest(`${s.server.url}/items?limit=1`),
    method: "GET",
    note: null,
  });
  const ready = async () => (await request(`${s.admin}/ready`)).status;

  for (let i = 0; i < 10; i++) {
    const a = await post();
    assert.equal(a.status, 201, a.text);
  }
  assert.equal(await ready(), 200);

  const sent: Sent[] = [];
  let streaming = true;
  const client = async (send: () => Promise<Sent>) => {
    while (streaming) {
      sent.push(await send());
      await sleep(25);
    }
  };
  const clients = Promise.all([client(get), client(post)]);
  let downStart = 0, down = 0, upStart = 0, up = 0;
  const readyDuring: number[] = [];
  try {
    await sleep(500);
    downStart = performance.now();
    await s.cluster.stopServer();
    down = performance.now();
    await sleep(outageMs / 2);
    readyDuring.push(await ready());
    await sleep(outageMs / 2);
    readyDuring.push(await ready());
    upStart = performance.now();
    await s.cluster.startServer();
    up = performance.now();
    await sleep(afterMs);
  } finally {
    streaming = false;
    await clients;
  }
  return {
    sent,
    posted,
    readyDuring,
    downStart,
    down,
    upStart,
    up,
    show: (a: Sent) =>
      `${a.method} ${a.status} ${errorCode(a)} sent ${
        Math.round(a.start - down)
      } ms after the stop (${Math.round(up - down)} ms: up again), took ${
        Math.round(a.end - a.start)
      } ms: ${a.text.slice(0, 200)}`,
  };
}

const ok = (a: Answer) => a.status === 200 || a.status === 201;

/** Requests answered entirely before the stop succeeded. */
function assertFineBefore(o: Outage): void {
  const before = o.sent.filter((a) => a.end < o.downStart);
  assert.ok(before.length >= 4, `only ${before.length} requests before`);
  for (const a of before) assert.ok(ok(a), o.show(a));
}

/** Requests sent while PostgreSQL was down (and answered before its start). */
function whileDown(o: Outage): Sent[] {
  const during = o.sent.filter((a) => a.start > o.down && a.end < o.upStart);
  assert.ok(during.length >= 2, `only ${during.length} requests during`);
  assert.ok(during.some((a) => a.method === "POST"), "no POST during");
  return during;
}

/** Every committed write is in the table, once; nothing else is. */
async function assertWritesKept(
  s: Setup,
  acknowledged: readonly string[],
  posted: number,
): Promise<void> {
  const sql = connect(s.cluster.superUri);
  try {
    const rows = await sql`select note from api.outage_log`;
    const notes = new Set(rows.map((r) => r.note as string));
    for (const note of acknowledged) assert.ok(notes.has(note), `${note} lost`);
    assert.equal(rows.length, notes.size, "a note was inserted twice");
    assert.ok(notes.size <= posted, "more rows than POSTs");
  } finally {
    await sql.end();
  }
}

/** 503 PGRST00x with Retry-After. */
function assertUnavailable(a: Answer, why: string): void {
  assert.equal(a.status, 503, why);
  assert.ok(UNAVAILABLE.includes(errorCode(a) ?? ""), why);
  assert.ok(a.headers.get("Retry-After") !== null, why);
}

/** Polls `/ready` until it answers `status`. */
function waitForReady(s: Setup, status: number): Promise<true> {
  return waitFor(
    `/ready to answer ${status}`,
    async () => {
      const a = await request(`${s.admin}/ready`);
      return a.status === status ? true : undefined;
    },
    5_000,
    100,
  );
}

Deno.test({
  name: "outage: while PostgreSQL is down requests fail within ~3 s as " +
    "unavailable and /ready is 503; after it is back requests succeed and " +
    "committed writes are all there",
  async fn() {
    await using s = await setUp();
    const url = s.server.url;
    const acknowledged: string[] = [];
    let posted = 0;
    const post = async () => {
      const note = `w${posted++}`;
      const a = await tryRequest(`${url}/outage_log`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Prefer: "tx=commit" },
        body: JSON.stringify({ note }),
      });
      if (ok(a)) acknowledged.push(note);
      return a;
    };
    const get = () => tryRequest(`${url}/items?limit=1`);

    for (let i = 0; i < 10; i++) {
      const a = await post();
      assert.equal(a.status, 201, a.text);
    }
    assert.equal((await request(`${s.admin}/ready`)).status, 200);

    // stopped while no request is in flight (see the strict test below)
    await s.cluster.stopServer();
    for (let i = 0; i < 4; i++) {
      const a = await (i % 2 === 0 ? get() : post());
      const why = `request ${i} during the outage: ${a.status} ${a.text}`;
      assert.ok(a.end - a.start < 3_000, `took ${a.end - a.start} ms`);
      if (a.status === 504) assert.equal(errorCode(a), "PGRST003", why);
      else assertUnavailable(a, why);
    }
    await waitForReady(s, 503);
    assert.equal((await request(`${s.admin}/live`)).status, 200);

    await s.cluster.startServer();
    const up = performance.now();
    // BUG (see the strict test): this should take under 2 s; the bound is
    // postgres.js's longest reconnect backoff (20 s) plus a margin
    await waitFor(
      "a GET to succeed",
      async () => {
        const a = await get();
        return a.status === 200 ? true : undefined;
      },
      25_000,
      250,
    );
    const recovered = performance.now() - up;
    for (let i = 0; i < 6; i++) {
      const a = await (i % 2 === 0 ? get() : post());
      assert.ok(
        ok(a),
        `request ${i} ${
          Math.round(recovered)
        } ms after the restart: ${a.status} ${a.text}`,
      );
    }
    await waitForReady(s, 200);
    assert.equal(await exitWithin(s.server.process, 0), null, "pgrest exited");
    assert.ok(acknowledged.length >= 13);
    await assertWritesKept(s, acknowledged, posted);
  },
});

Deno.test({
  // BUG: a stream of requests running while PostgreSQL stops (and, in
  // tests/process/connection_loss_test.ts, backends being terminated) can
  // crash pgrest (exit 1): "Uncaught TypeError: Cannot read properties of
  // null (reading 'write')" in postgres.js connection.js nextWrite, a
  // statement written to a reserved connection whose socket has closed.
  // Besides: while PostgreSQL is down, only the first requests get 503
  // PGRST001, later ones wait the whole db-pool-acquisition-timeout and get
  // 504 PGRST003 without Retry-After; after the restart requests keep
  // timing out for up to ~20 s. postgres.js delays reconnects by its
  // default `backoff` (a shared retry count: (0.5-1) * min(3^n / 100, 20) s)
  // and queues requests meanwhile; src/db/pool.ts createDb sets no
  // `backoff` and does not fail fast while the database is known to be
  // down. A connection attempt during the shutdown gets 57P03 ("the
  // database system is shutting down"), answered 500 instead of 503. SIGTERM
  // right after such an outage took 5 s to over 10 s.
  name: "outage (strict): through a stream of reads and writes, every " +
    "request while PostgreSQL is down is 503 PGRST00x with Retry-After, " +
    "200 within 2 s of it being back, no acknowledged write lost",
  ignore: false,
  async fn() {
    await using s = await setUp();
    const o = await outage(s, 3_000, 3_000);
    assertFineBefore(o);
    for (const a of o.sent) {
      assert.ok(a.status !== 0, o.show(a)); // pgrest crashed
      assert.ok(a.end - a.start < 3_000, o.show(a));
    }
    // while it stops: done, or unavailable; never a 500
    for (
      const a of o.sent.filter((a) => a.end > o.downStart && a.start < o.down)
    ) {
      if (!ok(a)) assertUnavailable(a, o.show(a));
    }
    for (const a of whileDown(o)) assertUnavailable(a, o.show(a));
    assert.deepEqual(o.readyDuring, [503, 503]);
    const after = o.sent.filter((a) => a.start > o.up);
    const firstOk = after.find(ok);
    assert.ok(firstOk !== undefined, "no success after the restart");
    assert.ok(
      firstOk.end - o.up < 2_000,
      `first success ${Math.round(firstOk.end - o.up)} ms after the restart`,
    );
    const settled = after.filter((a) => a.start > o.up + 2_000);
    assert.ok(settled.length >= 4, `only ${settled.length} late requests`);
    for (const a of settled) assert.ok(ok(a), o.show(a));
    await assertWritesKept(
      s,
      o.sent.filter((a) => a.method === "POST" && ok(a)).map((a) => a.note!),
      o.posted,
    );
    const t0 = performance.now();
    s.server.process.kill("SIGTERM");
    const status = await exitWithin(s.server.process, 3_000);
    assert.equal(
      status?.code,
      0,
      `exit ${Math.round(performance.now() - t0)} ms`,
    );
  },
});

Deno.test({
  name: "outage: admin /ready turns 503 when PostgreSQL stops, without any " +
    "API traffic, and 200 when it is back",
  async fn() {
    await using s = await setUp();
    assert.equal((await request(`${s.admin}/ready`)).status, 200);
    await s.cluster.stopServer();
    await waitForReady(s, 503);
    assert.equal((await request(`${s.admin}/live`)).status, 200);
    await s.cluster.startServer();
    await waitForReady(s, 200);
  },
});

Deno.test({
  // BUG: after a 10 s outage pgrest LISTENs again only ~15-20 s after
  // PostgreSQL is back, and `NOTIFY pgrst` sent meanwhile is lost: the
  // LISTEN connection (postgres.js `listen`) reconnects with the same
  // growing default `backoff` (src/db/pool.ts sets none).
  name: "outage: NOTIFY pgrst reloads the schema cache within 5 s of " +
    "PostgreSQL being back from a 10 s outage",
  ignore: false,
  async fn() {
    await using s = await setUp();
    await s.cluster.stopServer();
    await sleep(10_000);
    await s.cluster.startServer();
    const sql = connect(s.cluster.superUri);
    try {
      await sql.unsafe(
        `create table api.after_outage (id int);
         grant select on api.after_outage to web_anon;`,
      ).simple();
      await waitFor(
        "GET /after_outage to answer 200",
        async () => {
          await sql`select pg_notify('pgrst', 'reload schema')`;
          const a = await request(`${s.server.url}/after_outage`);
          return a.status === 200 ? true : undefined;
        },
        5_000,
        500,
      );
    } finally {
      await sql.end();
    }
  },
});
