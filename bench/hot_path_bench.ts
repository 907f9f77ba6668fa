/**
 * Owns the hot-path microbenchmark: the JavaScript pgrest runs per request,
 * measured in-process without a socket or a database. It drives the real
 * request handler (`src/server.ts` `makeHandler`: limits, request timeout,
 * header safety, and the application's handler inside) with `Request`s like
 * the benchmark's, against a stub {@linkcode Db} that answers every
 * transaction at once with a canned row. The schema cache is loaded once
 * from a database with the benchmark's dataset (bench/scenarios.ts
 * `datasetSql`): `PGRST_HOT_BENCH_URI` (an authenticator's URI, schema
 * `bench`, role `bench_anon`), or else a private temporary cluster that it
 * creates, loads and stops.
 *
 * Per scenario: a warm-up, then `ROUNDS` rounds of `N` requests; it prints
 * the median and the spread in µs of the main thread's CPU time per
 * request, and the same for building the `Request` and reading a like
 * `Response` alone (the part that is not pgrest's). Run: `deno task bench:hot` (add `--cpu-prof` to profile:
 * `deno run -A --cpu-prof bench/hot_path_bench.ts`). `HOT_N`, `HOT_ROUNDS`
 * and `HOT_ONLY` (a scenario name) change the run.
 *
 * @module
 */

import postgres from "postgres";
import { createAuthenticator } from "../src/auth/jwt.ts";
import { type Config, DEFAULT_CONFIG } from "../src/config/types.ts";
import type { Db, Row, TxRequest } from "../src/db/pool.ts";
import { createDb } from "../src/db/pool.ts";
import { Metrics } from "../src/metrics.ts";
import type { SchemaCache } from "../src/schema_cache/types.ts";
import { fetchSchemaCache, makeHandler } from "../src/server.ts";
import type { AppState } from "../src/app.ts";
import {
  AUTHENTICATOR_ROLE,
  startTestCluster,
} from "../tests/harness/with_pg.ts";
import { BENCH_ROLE, BENCH_SCHEMA, datasetSql } from "./scenarios.ts";

/** One request shape and the row the stub database answers with. */
export interface HotScenario {
  readonly name: string;
  readonly method: "GET" | "POST";
  /** Path and query; `N` is replaced by a number per request. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly status: number;
  /** The main statement's row. */
  readonly row: Row;
}

/** The scenarios, as bench/run.ts's GET by key, RPC and POST one row. */
export const SCENARIOS: readonly HotScenario[] = [
  {
    name: "get_by_pk",
    method: "GET",
    path: "/items?id=eq.N",
    headers: {},
    status: 200,
    row: {
      total_result_set: null,
      page_total: 1,
      body:
        '[{"id":42,"name":"item 42","price":3.26,"created_at":"2024-01-01T00:42:00+00:00"}]',
      response_headers: null,
      response_status: null,
    },
  },
  {
    name: "rpc_add_them",
    method: "POST",
    path: "/rpc/add_them",
    headers: { "Content-Type": "application/json" },
    body: '{"a": 1, "b": 2}',
    status: 200,
    row: {
      total_result_set: null,
      page_total: 1,
      body: "3",
      response_headers: null,
      response_status: null,
    },
  },
  {
    name: "post_one",
    method: "POST",
    path: "/writes",
    headers: {
      "Content-Type": "application/json",
      "Prefer": "return=minimal",
    },
    body: '{"name":"item N","price":N}',
    status: 201,
    row: {
      total_result_set: null,
      page_total: 1,
      body: "",
      response_headers: null,
      response_status: null,
      inserted: 1,
      location: null,
    },
  },
];

/** A database that answers every transaction at once. */
export function stubDb(row: () => Row): Db {
  const nothing: readonly Row[] = [];
  return {
    transaction(tx: TxRequest): Promise<(readonly Row[])[]> {
      const out: (readonly Row[])[] = [];
      const last = tx.statements.length - 1;
      for (let i = 0; i < last; i++) out.push(nothing);
      out.push([row()]);
      return Promise.resolve(out);
    },
    query: () => Promise.resolve([]),
    listen: () => Promise.resolve({ unlisten: () => Promise.resolve() }),
    stats: () => ({ max: 10, inUse: 0, waiting: 0, timeouts: 0 }),
    invalidateStatements: () => {},
    close: () => Promise.resolve(),
  };
}

const encoder = new TextEncoder();
function say(line: string): void {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}

/** Loads the schema cache of the benchmark's dataset. */
export async function loadCache(config: Config): Promise<SchemaCache> {
  const given = Deno.env.get("PGRST_HOT_BENCH_URI");
  if (given !== undefined && given !== "") {
    const db = createDb({ ...config, dbUri: given, dbPool: 1 });
    try {
      return await fetchSchemaCache(db, config);
    } finally {
      await db.close();
    }
  }
  say("no PGRST_HOT_BENCH_URI: loading the dataset into a cluster");
  const cluster = await startTestCluster({ fresh: true });
  try {
    const admin = postgres(cluster.superUri, { max: 1, onnotice: () => {} });
    try {
      for (const s of datasetSql(AUTHENTICATOR_ROLE)) await admin.unsafe(s);
    } finally {
      await admin.end();
    }
    const db = createDb({ ...config, dbUri: cluster.uri, dbPool: 1 });
    try {
      return await fetchSchemaCache(db, config);
    } finally {
      await db.close();
    }
  } finally {
    await cluster.stop();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/**
 * The main thread's CPU time in ns (Linux `schedstat`), which other
 * processes on the machine disturb less than wall time; wall time where
 * that file does not exist.
 */
function threadNs(): number {
  try {
    const text = Deno.readTextFileSync("/proc/thread-self/schedstat");
    return Number(text.split(" ")[0]);
  } catch {
    return performance.now() * 1e6;
  }
}

/** Runs `n` requests one after another; µs per request. */
async function round(
  n: number,
  one: (i: number) => Promise<void>,
): Promise<number> {
  const t0 = threadNs();
  for (let i = 0; i < n; i++) await one(i);
  return (threadNs() - t0) / 1000 / n;
}

async function measure(
  label: string,
  n: number,
  rounds: number,
  one: (i: number) => Promise<void>,
): Promise<number> {
  await round(Math.max(1000, n >> 1), one);
  const us: number[] = [];
  for (let r = 0; r < rounds; r++) us.push(await round(n, one));
  const m = median(us);
  say(
    `${label.padEnd(28)} ${m.toFixed(2).padStart(7)} µs/request  (min ${
      Math.min(...us).toFixed(2)
    }, max ${Math.max(...us).toFixed(2)})`,
  );
  return m;
}

/** The configuration the handler runs with. */
export const HOT_CONFIG: Config = {
  ...DEFAULT_CONFIG,
  dbUri: "postgresql://unused@127.0.0.1:1/unused",
  dbSchemas: [BENCH_SCHEMA],
  dbAnonRole: BENCH_ROLE,
  logLevel: "crit",
  dbChannelEnabled: false,
};

/**
 * The real handler over a stub database and the benchmark's schema cache;
 * `answer` sets the row the stub answers with.
 */
export async function hotHandler(): Promise<{
  handle: (request: Request) => Promise<Response>;
  answer: (row: Row) => void;
}> {
  const config = HOT_CONFIG;
  const cache = await loadCache(config);
  let current: Row = {};
  const state: AppState = {
    config,
    db: stubDb(() => current),
    auth: await createAuthenticator(config),
    cache,
    now: () => Math.floor(Date.now() / 1000),
    metrics: new Metrics(),
    dbDown: false,
    onConnectionError: () => {},
  };
  const handler = makeHandler(state);
  return {
    handle: (request) => handler(request),
    answer: (row) => {
      current = row;
    },
  };
}

/** The `i`th request of a scenario (a key that varies as the load's). */
export function hotRequest(s: HotScenario, i: number): Request {
  const k = String((i * 7919) % 100000 + 1);
  const headers: Record<string, string> = {
    "host": "127.0.0.1:3999",
    ...s.headers,
  };
  const init: RequestInit = { method: s.method, headers };
  if (s.body !== undefined) {
    // as a client sends it (wrk does), with its length
    const body = s.body.replaceAll("N", k);
    headers["content-length"] = String(encoder.encode(body).byteLength);
    init.body = body;
  }
  return new Request(
    `http://127.0.0.1:3999${s.path.replace("N", k)}`,
    init,
  );
}

/** Runs one scenario once and fails unless it answers as expected. */
export async function checkScenario(
  handle: (request: Request) => Promise<Response>,
  s: HotScenario,
): Promise<void> {
  const check = await handle(hotRequest(s, 0));
  const text = await check.text();
  if (check.status !== s.status) {
    throw new Error(`${s.name}: status ${check.status}: ${text}`);
  }
}

async function main(): Promise<void> {
  const N = Number(Deno.env.get("HOT_N") ?? 20000);
  const ROUNDS = Number(Deno.env.get("HOT_ROUNDS") ?? 9);
  const ONLY = Deno.env.get("HOT_ONLY");
  const { handle, answer } = await hotHandler();
  for (const s of SCENARIOS) {
    if (ONLY !== undefined && ONLY !== s.name) continue;
    answer(s.row);
    // the answer is right before it is timed
    await checkScenario(handle, s);
    await measure(`${s.name}`, N, ROUNDS, async (i) => {
      const res = await handle(hotRequest(s, i));
      await res.arrayBuffer();
    });
    await measure(`  (Request + Response alone)`, N, ROUNDS, async (i) => {
      const req = hotRequest(s, i);
      if (s.body !== undefined) await req.arrayBuffer();
      const res = new Response(String(s.row["body"]), {
        status: s.status,
        headers: [["Content-Type", "application/json; charset=utf-8"]],
      });
      await res.arrayBuffer();
    });
  }
}

if (import.meta.main) await main();
