/**
 * Benchmark entry point (`deno task bench`): measures pgrest against three
 * ceilings, the replay bound and a floor on the same machine, in the same
 * run.
 *
 * 1. Starts a private PostgreSQL cluster (tests/harness/with_pg.ts) and, as
 *    the superuser, creates `bench.items` with 100k rows, `bench.parents`
 *    with their `bench.children` and (through `bench.parent_tags`)
 *    `bench.tags`, all readable by the NOLOGIN role `bench_anon`, which is
 *    granted to the authenticator, the function `bench.add_them` that it may
 *    execute, the empty `bench.writes` (identity `id`, `name`, `price`)
 *    that it may insert into and `bench.patches` (1,000 rows) whose prices
 *    it may update (bench/scenarios.ts, `datasetSql`).
 * 2. Starts three servers, each its own process on a free loopback port:
 *    - `pgrest`: `deno run -A --v8-flags=--max-semi-space-size=4 main.ts`
 *      (the V8 flag of `deno task start`; PGRST_DB_SCHEMAS=bench,
 *      PGRST_DB_ANON_ROLE=bench_anon, PGRST_DB_POOL=10, log level crit;
 *      PGRST_DB_TX_END left at its default, commit);
 *    - `ceiling`: bench/ceiling_server.ts, `Deno.serve` + postgres.js running
 *      the one prepared query per request (pool 10, same role; for the
 *      embedding, filtered and counted reads, the exact SQL pgrest
 *      generates, rendered once at start-up by pgrest's own modules);
 *    - `bare`: bench/bare_server.ts, `Deno.serve` with a fixed body (POSTs:
 *      reads the request body, answers 201; PATCH: 204; `/rpc/…`: 200 with
 *      `3`).
 *    Before measuring, each scenario is sent once to every server: reads
 *    (and the RPC call) must get pgrest's status and the same body from
 *    pgrest and the ceiling, writes their status and the same rows.
 * 3. The `pgbench` ceiling (bench/pgbench.ts; `--no-pgbench` skips it):
 *    with `log_statement = 'all'` switched on for a moment, one request of
 *    each scenario is sent to pgrest and the transaction it ran (BEGIN, the
 *    set_config statement, the main statement, COMMIT, with their
 *    parameters) is read back from the server log into a pgbench script,
 *    pipelined as pgrest pipelines it; pgbench runs it with `-M prepared
 *    -n -c <conns> -j <threads> -T <duration>` as the authenticator (session
 *    role bench_anon, so that the statements can be prepared before the
 *    transaction's own role switch). The scripts are in the JSON report.
 *    The `replay` contender (bench/replay_server.ts; `--no-replay` skips
 *    it) is started after this capture (which runs for it even without
 *    pgbench): `Deno.serve` + pgrest's own wire client and pool sending,
 *    per request, the captured statements of the scenario as pgrest sends
 *    them (one batch behind one Sync, prepared, as the authenticator
 *    without a session role), with the request path's numbers and the
 *    request body in place of the captured ones, and answering the `body`
 *    column. It is the bound for any server on this stack: replay ÷
 *    pgbench is what HTTP, JavaScript and the client leave of PostgreSQL's
 *    rate, pgrest ÷ replay what pgrest's own work leaves of that bound.
 *    It is checked like the others: pgrest's status, and pgrest's body
 *    (reads) or rows (writes).
 * 4. For each scenario (bench/scenarios.ts) and connection count: a warm-up
 *    per contender, then `--reps` repetitions of `--duration` seconds, the
 *    contenders taking turns within each repetition (order rotated) so
 *    that drift hits them alike. Load comes from `wrk` (bench/wrk.lua) if
 *    it is on PATH, else from bench/load.mjs under Node (or Deno); a
 *    request body template is handed to either in a file in a temporary
 *    directory. Insert scenarios (`POST /writes`, one row or 1,000 rows
 *    per request) insert into `bench.writes`, which the superuser empties
 *    with `TRUNCATE … RESTART IDENTITY` before every load run, warm-ups
 *    included: each run starts on an empty table and grows it only by its
 *    own rows. After each run of pgrest, the ceiling, replay and pgbench the
 *    table's row count is checked against the requests answered. The PATCH
 *    scenario updates `bench.patches`, whose prices go back to 0 and which
 *    is vacuumed before every run. The cluster has fsync and
 *    synchronous_commit off and no autovacuum, so commits cost no disk
 *    flush: the writes measure server and SQL overhead, not storage.
 * 5. The schema-scale measurement (bench/schema_scale.ts; `--schema-scale`
 *    runs only it, `--no-schema-scale` skips it): schema cache load time
 *    and spawn-to-first-answer of pgrest on a generated schema of 1,000
 *    tables, 3,000 foreign keys and 2,000 functions.
 * 6. Prints a Markdown report (a summary of pgrest ÷ each ceiling and
 *    replay ÷ pgbench, then per
 *    scenario the median and min–max of req/s, for writes also rows/s =
 *    req/s × rows per request; p50 and p99 latency; peak RSS) and writes
 *    the same data to bench/results/latest.json (`--out` to change).
 *
 * Peak RSS is the server process's VmHWM from /proc; it is reset (through
 * /proc/PID/clear_refs) before each connection count, so each row shows the
 * peak under that load, and the whole-run peak is reported separately.
 * pgbench has none (it is PostgreSQL doing the work).
 *
 * Every process and the cluster are stopped at the end, on failure, on
 * SIGINT/SIGTERM and when the time budget (`--timeout`, by default derived
 * from the options) runs out.
 *
 * Options: `--duration S` (2), `--reps N` (5), `--warmup S` (1),
 * `--connections 10,50`, `--quick` (1 rep of 2 s, 1 s warm-up), `--threads N`
 * (wrk and pgbench threads, 1), `--loader auto|wrk|node|deno`, `--out FILE`,
 * `--timeout S`, `--scenarios a,b`, `--no-pgbench`, `--no-replay`,
 * `--schema-scale`, `--no-schema-scale`, `--help`. The defaults take about
 * 20 minutes on 2 cores (9 scenarios × 2 connection counts × 5 contenders ×
 * (1 s + 5 × 2 s) plus about 1.5 minutes of set-up and the schema-scale
 * runs).
 *
 * @module
 */

import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import postgres from "postgres";
import {
  AUTHENTICATOR_ROLE,
  startTestCluster,
  type TestCluster,
} from "../tests/harness/with_pg.ts";
import { freePort } from "../tests/harness/free_port.ts";
import {
  BENCH_ROLE,
  BENCH_SCHEMA,
  datasetSql,
  expandPath,
  resetSql,
  type Scenario,
  SCENARIOS,
} from "./scenarios.ts";
import { CEILING_ROUTES } from "./ceiling_server.ts";
import {
  type CapturedStatement,
  type DrawnSlot,
  parseStatementLog,
  pgbenchScript,
  runPgbench,
  STATEMENT_LOG_SETTINGS,
} from "./pgbench.ts";
import type { ReplayFile, ReplayRoute } from "./replay_server.ts";
import { measureSchemaScale, schemaScaleMarkdown } from "./schema_scale.ts";

/** The scenarios to run (`--scenarios a,b`; all by default). */
let selectedScenarios: readonly Scenario[] = SCENARIOS;

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BENCH_DIR = fileURLToPath(new URL("./", import.meta.url));
const DEFAULT_OUT = `${BENCH_DIR}results/latest.json`;
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;

const USAGE = `Usage: deno task bench [options]
  --duration S        seconds per measured repetition (default 2)
  --reps N            repetitions per contender and connection count (default 5)
  --warmup S          warm-up seconds per contender and connection count (default 1)
  --connections LIST  comma-separated connection counts (default 10,50)
  --quick             smoke run: 1 repetition of 2 s, 1 s warm-up
  --threads N         wrk and pgbench threads (default 1)
  --loader KIND       auto | wrk | node | deno (default auto: wrk if installed)
  --out FILE          JSON results (default bench/results/latest.json)
  --timeout S         abort after S seconds (default: derived from the above)
  --scenarios LIST    comma-separated scenario names (default: all)
  --no-pgbench        skip the pgbench ceiling
  --no-replay         skip the replay contender (bench/replay_server.ts)
  --schema-scale      only the schema-scale measurement (bench/schema_scale.ts)
  --no-schema-scale   skip the schema-scale measurement
`;

// ---------------------------------------------------------------- options

interface Options {
  readonly duration: number;
  readonly reps: number;
  readonly warmup: number;
  readonly connections: readonly number[];
  readonly quick: boolean;
  readonly threads: number;
  readonly loader: "auto" | "wrk" | "node" | "deno";
  readonly out: string;
  readonly timeout: number | null;
  /** Run the pgbench ceiling (`--no-pgbench`: not). */
  readonly pgbench: boolean;
  /** Run the replay contender (`--no-replay`: not). */
  readonly replay: boolean;
  /** The schema-scale measurement: after the load runs, not at all, alone. */
  readonly schemaScale: "yes" | "no" | "only";
}

/**
 * `--db-socket`: pgrest, the ceiling and pgbench reach PostgreSQL through its
 * unix socket instead of TCP on 127.0.0.1 (the catalog connections stay on
 * TCP).
 */
let dbSocket = false;

/** pgrest's database URI over the unix socket, when `--db-socket` asks. */
function socketUri(cluster: TestCluster): string | null {
  if (!dbSocket || cluster.socketDir === null || cluster.port === null) {
    return null;
  }
  const u = new URL(cluster.uri);
  return `postgresql://${u.username}@${
    encodeURIComponent(cluster.socketDir)
  }:${cluster.port}${u.pathname}`;
}

function parseOptions(args: string[]): Options | null {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string" },
      reps: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string", default: "10,50" },
      quick: { type: "boolean", default: false },
      threads: { type: "string", default: "1" },
      loader: { type: "string", default: "auto" },
      out: { type: "string", default: DEFAULT_OUT },
      timeout: { type: "string" },
      scenarios: { type: "string" },
      "no-pgbench": { type: "boolean", default: false },
      "no-replay": { type: "boolean", default: false },
      "schema-scale": { type: "boolean", default: false },
      "no-schema-scale": { type: "boolean", default: false },
      "db-socket": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return null;
  dbSocket = values["db-socket"];
  if (values.scenarios !== undefined) {
    const wanted = values.scenarios.split(",").map((x) => x.trim());
    selectedScenarios = SCENARIOS.filter((sc) => wanted.includes(sc.name));
    if (selectedScenarios.length === 0) {
      throw new Error(
        `--scenarios matches none of ${
          SCENARIOS.map((sc) => sc.name).join(", ")
        }`,
      );
    }
  }
  const int = (name: string, v: string | undefined, def: number, min = 1) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
    }
    return n;
  };
  const quick = values.quick;
  const loader = values.loader;
  if (!["auto", "wrk", "node", "deno"].includes(loader)) {
    throw new Error(`--loader must be auto, wrk, node or deno, got ${loader}`);
  }
  const connections = values.connections.split(",").map((c) =>
    int("connections", c.trim(), 0)
  );
  return {
    duration: int("duration", values.duration, 2),
    reps: int("reps", values.reps, quick ? 1 : 5),
    warmup: int("warmup", values.warmup, 1, 0),
    connections,
    quick,
    threads: int("threads", values.threads, 1),
    loader: loader as Options["loader"],
    out: values.out,
    timeout: values.timeout === undefined
      ? null
      : int("timeout", values.timeout, 0),
    pgbench: !values["no-pgbench"],
    replay: !values["no-replay"],
    schemaScale: values["schema-scale"]
      ? "only"
      : values["no-schema-scale"]
      ? "no"
      : "yes",
  };
}

// ---------------------------------------------------------------- output

const encoder = new TextEncoder();

function log(message: string): void {
  Deno.stderr.writeSync(encoder.encode(`bench: ${message}\n`));
}

function print(text: string): void {
  const data = encoder.encode(text);
  let written = 0;
  while (written < data.length) {
    written += Deno.stdout.writeSync(data.subarray(written));
  }
}

// ---------------------------------------------------------------- cleanup

/** Cleanups run in reverse order of registration, once. */
const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | null = null;

function cleanup(): Promise<void> {
  return cleaning ??= (async () => {
    // A snapshot: runLoad removes its entry when the process ends.
    for (const fn of [...cleanups].reverse()) {
      try {
        await fn();
      } catch (e) {
        log(`cleanup failed: ${e instanceof Error ? e.message : e}`);
      }
    }
  })();
}

/** Stops everything and exits; for signals and the time budget. */
function abort(reason: string, code: number): void {
  log(`${reason}: stopping`);
  void cleanup().finally(() => Deno.exit(code));
}

// ---------------------------------------------------------------- processes

/** Sends `signal`, then SIGKILL after `graceMs`, and waits for the exit. */
async function terminate(
  child: Deno.ChildProcess,
  graceMs = STOP_GRACE_MS,
  signal: Deno.Signal = "SIGTERM",
): Promise<void> {
  try {
    child.kill(signal);
  } catch { /* already exited */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, graceMs);
  await child.status.catch(() => {});
  clearTimeout(timer);
}

/** Collects a process's output, keeping the last `limit` characters. */
function collectOutput(
  child: Deno.ChildProcess,
  limit = 32_000,
): { text(): string; done: Promise<void> } {
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.length > 2 * limit) text = text.slice(-limit);
    }
  };
  const done = Promise.all([collect(child.stdout), collect(child.stderr)])
    .then(() => {}, () => {});
  return { text: () => text.slice(-limit), done };
}

/** The child environment: ours without PGRST_* and BENCH_* variables. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("PGRST_") && !k.startsWith("BENCH_")) env[k] = v;
  }
  env.NO_COLOR = "1";
  env.DENO_NO_UPDATE_CHECK = "1";
  return env;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return null;
  }
}

/** Direct children of `pid` (all its threads'). */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      const text = await readText(`/proc/${pid}/task/${task.name}/children`);
      for (const p of (text ?? "").split(/\s+/)) if (p) out.push(Number(p));
    }
  } catch { /* gone */ }
  return out;
}

/**
 * The pid of the process that actually runs the server: `pid` itself unless
 * a deno process below it (a `deno run` launcher's child, a task runner's
 * child) exists, in which case the deepest such process.
 */
async function serverPid(pid: number): Promise<number> {
  let best = pid;
  let frontier = [pid];
  for (let depth = 0; depth < 5 && frontier.length > 0; depth++) {
    const next: number[] = [];
    for (const p of frontier) next.push(...await childrenOf(p));
    for (const p of next) {
      const comm = (await readText(`/proc/${p}/comm`))?.trim();
      if (comm === "deno") best = p;
    }
    frontier = next;
  }
  return best;
}

/** VmHWM (peak resident set) of `pid` in KiB, or null. */
async function peakRssKiB(pid: number): Promise<number | null> {
  const status = await readText(`/proc/${pid}/status`);
  const m = status === null ? null : /^VmHWM:\s+(\d+) kB/m.exec(status);
  return m === null ? null : Number(m[1]);
}

/** Resets VmHWM to the current RSS; false if the kernel refused. */
async function resetPeakRss(pid: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- servers

type ServerName = "pgrest" | "ceiling" | "replay" | "bare";

interface ServerSpec {
  readonly name: ServerName;
  readonly description: string;
  /** Arguments to `deno`. */
  readonly args: readonly string[];
  env(port: number, cluster: TestCluster): Record<string, string>;
  /** Whether this server answers the scenario meaningfully. */
  serves(scenario: Scenario): boolean;
}

const POOL = 10;

const SERVERS: readonly ServerSpec[] = [
  {
    name: "pgrest",
    description:
      `pgrest: deno run -A --v8-flags=--max-semi-space-size=4 main.ts (pool ${POOL}), as deno task start`,
    args: ["run", "-A", "--v8-flags=--max-semi-space-size=4", "main.ts"],
    env: (port, cluster) => ({
      PGRST_DB_URI: socketUri(cluster) ?? cluster.uri,
      PGRST_DB_SCHEMAS: BENCH_SCHEMA,
      PGRST_DB_ANON_ROLE: BENCH_ROLE,
      PGRST_SERVER_HOST: "127.0.0.1",
      PGRST_SERVER_PORT: String(port),
      PGRST_DB_POOL: String(POOL),
      PGRST_LOG_LEVEL: "crit",
    }),
    serves: () => true,
  },
  {
    name: "ceiling",
    description:
      `ceiling: Deno.serve + postgres.js, one prepared query (pool ${POOL})`,
    args: ["run", "-A", "bench/ceiling_server.ts"],
    env: (port, cluster) => ({
      BENCH_DB_URI: cluster.uri,
      ...(dbSocket && cluster.socketDir !== null && cluster.port !== null
        ? { BENCH_DB_SOCKET: `${cluster.socketDir}/.s.PGSQL.${cluster.port}` }
        : {}),
      BENCH_DB_ROLE: BENCH_ROLE,
      BENCH_DB_POOL: String(POOL),
      BENCH_HOST: "127.0.0.1",
      BENCH_PORT: String(port),
    }),
    serves: (scenario) => scenario.name in CEILING_ROUTES,
  },
  {
    name: "bare",
    description: "bare: Deno.serve, fixed body",
    args: ["run", "-A", "bench/bare_server.ts"],
    env: (port) => ({ BENCH_HOST: "127.0.0.1", BENCH_PORT: String(port) }),
    serves: () => true,
  },
];

/** Where bench/replay_server.ts answers once its pool reaches the database. */
const REPLAY_READY_PATH = "/.replay/ready";

/**
 * The `replay` server: started after the capture, serving the scenarios in
 * `captured` from the replay file `file` (bench/replay_server.ts). It runs
 * with pgrest's V8 flag and connects as pgrest does: the authenticator, no
 * session role, over the same URI (unix socket with `--db-socket`).
 */
function replaySpec(file: string, captured: ReadonlySet<string>): ServerSpec {
  return {
    name: "replay",
    description:
      `replay: Deno.serve + pgrest's wire client replaying pgrest's captured transaction per request: the bound for any server on this stack (pool ${POOL}, prepared, as ${AUTHENTICATOR_ROLE} without a session role)`,
    args: [
      "run",
      "-A",
      "--v8-flags=--max-semi-space-size=4",
      "bench/replay_server.ts",
    ],
    env: (port, cluster) => ({
      BENCH_DB_URI: socketUri(cluster) ?? cluster.uri,
      BENCH_REPLAY_FILE: file,
      BENCH_DB_POOL: String(POOL),
      BENCH_HOST: "127.0.0.1",
      BENCH_PORT: String(port),
    }),
    serves: (scenario) => captured.has(scenario.name),
  };
}

interface RunningServer {
  readonly spec: ServerSpec;
  readonly url: string;
  /** The deno process serving (for /proc). */
  readonly pid: number;
  exitStatus(): Deno.CommandStatus | null;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a server and waits until `probePath` answers 2xx. */
async function startBenchServer(
  spec: ServerSpec,
  cluster: TestCluster,
  probePath: string,
): Promise<RunningServer> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [...spec.args],
    cwd: ROOT,
    env: { ...baseEnv(), ...spec.env(port, cluster) },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = collectOutput(child);
  const state: { status: Deno.CommandStatus | null } = { status: null };
  void child.status.then((s) => (state.status = s));
  let stopping: Promise<void> | null = null;
  const stop = () =>
    stopping ??= (async () => {
      if (state.status === null) await terminate(child);
      await output.done;
    })();
  cleanups.push(stop);

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "no answer";
  while (true) {
    if (state.status !== null) {
      await output.done;
      throw new Error(
        `${spec.name} exited (code ${state.status.code}) before it was ready:\n${output.text()}`,
      );
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${spec.name} not ready after ${READY_TIMEOUT_MS} ms (${last}):\n${output.text()}`,
      );
    }
    try {
      const res = await fetch(url + probePath, {
        signal: AbortSignal.timeout(2_000),
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) break;
      last = `status ${res.status}`;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    spec,
    url,
    pid: await serverPid(child.pid),
    exitStatus: () => state.status,
    output: output.text,
    stop,
  };
}

// ---------------------------------------------------------------- load

interface LoadResult {
  readonly requests: number;
  readonly duration_us: number;
  readonly bytes: number;
  readonly p50_us: number;
  readonly p90_us: number;
  readonly p99_us: number;
  readonly max_us: number;
  readonly mean_us: number;
  readonly errors: {
    readonly connect: number;
    readonly read: number;
    readonly write: number;
    readonly timeout: number;
    readonly status: number;
  };
}

/** What a load run sends: a scenario with its body template in a file. */
interface LoadTarget {
  /** Path template. */
  readonly path: string;
  readonly method: string;
  /** File holding the body template, or null (no body). */
  readonly bodyFile: string | null;
  /** `Name: value` lines. */
  readonly headers: readonly string[];
}

interface Loader {
  readonly kind: "wrk" | "node" | "deno";
  /** The command line for one run. */
  command(
    url: string,
    target: LoadTarget,
    connections: number,
    seconds: number,
    seed: number,
  ): string[];
}

/** `which`, without a shell. */
async function onPath(program: string): Promise<string | null> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const candidate = `${dir}/${program}`;
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) {
        return candidate;
      }
    } catch { /* not here */ }
  }
  return null;
}

async function chooseLoader(options: Options): Promise<Loader> {
  const wrk = await onPath("wrk");
  const node = await onPath("node");
  let kind = options.loader;
  if (kind === "auto") kind = wrk ? "wrk" : node ? "node" : "deno";
  if (kind === "wrk") {
    if (wrk === null) throw new Error("--loader wrk: wrk is not installed");
    return {
      kind,
      command: (url, target, connections, seconds, seed) => [
        wrk,
        "-t",
        String(Math.min(options.threads, connections)),
        "-c",
        String(connections),
        "-d",
        `${seconds}s`,
        "--timeout",
        "5s",
        "-s",
        `${BENCH_DIR}wrk.lua`,
        url,
        "--",
        target.path,
        String(seed),
        target.method,
        target.bodyFile ?? "-",
        ...target.headers,
      ],
    };
  }
  if (kind === "node" && node === null) {
    throw new Error("--loader node: node is not installed");
  }
  const runtime = kind === "node" ? [node!] : [Deno.execPath(), "run", "-A"];
  return {
    kind,
    command: (url, target, connections, seconds, seed) => [
      ...runtime,
      `${BENCH_DIR}load.mjs`,
      "--url",
      url,
      "--path",
      target.path,
      "--method",
      target.method,
      ...(target.bodyFile === null ? [] : ["--body-file", target.bodyFile]),
      ...target.headers.flatMap((h) => ["--header", h]),
      "--connections",
      String(connections),
      "--duration",
      String(seconds),
      "--seed",
      String(seed),
    ],
  };
}

async function runLoad(
  loader: Loader,
  url: string,
  target: LoadTarget,
  connections: number,
  seconds: number,
  seed: number,
): Promise<LoadResult> {
  const [program, ...args] = loader.command(
    url,
    target,
    connections,
    seconds,
    seed,
  ) as [string, ...string[]];
  const child = new Deno.Command(program, {
    args,
    cwd: ROOT,
    env: baseEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = collectOutput(child);
  const kill = () => terminate(child, 1_000, "SIGKILL");
  cleanups.push(kill);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void kill();
  }, seconds * 1000 + 30_000);
  const status = await child.status;
  clearTimeout(timer);
  await output.done;
  if (cleaning === null) cleanups.splice(cleanups.indexOf(kill), 1);
  const text = output.text();
  const line = text.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (timedOut || !status.success || line === undefined) {
    throw new Error(
      `${loader.kind} failed (${
        timedOut ? "timed out" : `exit ${status.code}`
      }):\n${text}`,
    );
  }
  return JSON.parse(line.slice("BENCH_RESULT ".length)) as LoadResult;
}

// ---------------------------------------------------------------- stats

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function spread(values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

interface Sample {
  readonly rep: number;
  readonly rps: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly requests: number;
  readonly errors: number;
  readonly non2xx: number;
  /** Writes (pgrest, ceiling): rows in the table after the run, else null. */
  readonly rows_in_table: number | null;
  readonly raw: LoadResult;
}

function toSample(
  rep: number,
  r: LoadResult,
  rowsInTable: number | null,
): Sample {
  const e = r.errors;
  return {
    rep,
    rps: r.requests / (r.duration_us / 1e6),
    p50_ms: r.p50_us / 1000,
    p99_ms: r.p99_us / 1000,
    requests: r.requests,
    errors: e.connect + e.read + e.write + e.timeout,
    non2xx: e.status,
    rows_in_table: rowsInTable,
    raw: r,
  };
}

interface ServerCell {
  readonly rps: Spread;
  /** Writes, pgrest and ceiling: rows inserted per second (req/s × rows). */
  readonly rows_per_s: Spread | null;
  readonly p50_ms: Spread;
  readonly p99_ms: Spread;
  /** VmHWM during this connection count (or whole run so far), MiB. */
  readonly peak_rss_mib: number | null;
  readonly errors: number;
  readonly non2xx: number;
  readonly samples: readonly Sample[];
}

interface Ratios {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
}

/** A server, or pgbench: what the load runs are measured against. */
type ContenderName = ServerName | "pgbench";

interface Cell {
  readonly scenario: string;
  readonly connections: number;
  readonly servers: Partial<Record<ContenderName, ServerCell>>;
  /**
   * pgrest ÷ each other contender, and replay ÷ pgbench (what HTTP,
   * JavaScript and the client leave of PostgreSQL's rate), on the medians.
   */
  readonly ratios: {
    readonly pgrest_over_ceiling: Ratios | null;
    readonly pgrest_over_pgbench: Ratios | null;
    readonly pgrest_over_replay: Ratios | null;
    readonly replay_over_pgbench: Ratios | null;
    readonly pgrest_over_bare: Ratios | null;
  };
}

function ratios(a?: ServerCell, b?: ServerCell): Ratios | null {
  if (a === undefined || b === undefined) return null;
  return {
    rps: a.rps.median / b.rps.median,
    p50: a.p50_ms.median / b.p50_ms.median,
    p99: a.p99_ms.median / b.p99_ms.median,
  };
}

// ---------------------------------------------------------------- report

const fmtInt = (n: number) => Math.round(n).toLocaleString("en-US");
const fmtMs = (n: number) => n < 10 ? n.toFixed(2) : n.toFixed(1);
const fmtSpread = (s: Spread, f: (n: number) => string) =>
  s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
const fmtRatio = (n: number | undefined) =>
  n === undefined ? "–" : n.toFixed(2);

interface Report {
  readonly generated_at: string;
  readonly host: Record<string, unknown>;
  readonly options: Record<string, unknown>;
  readonly servers: Record<string, {
    description: string;
    peak_rss_mib: number | null;
  }>;
  readonly scenarios: readonly {
    name: string;
    description: string;
    method: string;
    path: string;
    /** Writes: rows inserted or updated per request; reads: null. */
    rows_per_request: number | null;
  }[];
  readonly cells: readonly Cell[];
  /** The pgbench script per scenario and its `-D` values. */
  readonly pgbench_scripts: Record<string, {
    script: string;
    defines: Record<string, string>;
  }>;
  /** bench/schema_scale.ts's report, or null when it did not run. */
  readonly schema_scale: Awaited<ReturnType<typeof measureSchemaScale>> | null;
}

function markdown(report: Report): string {
  const o = report.options;
  const h = report.host;
  const lines: string[] = [
    `# pgrest benchmark (${report.generated_at})`,
    "",
    `Host: ${h.cpus} × ${h.cpu_model}, ${h.os}; Deno ${h.deno}; ${h.postgres}.`,
  ];
  if (report.cells.length > 0) {
    lines.push(
      `Load: ${o.loader}, warm-up ${o.warmup_s} s, ${o.reps} × ${o.duration_s} s per contender and connection count; ` +
        `median (min–max) over the repetitions. Load generator, servers and PostgreSQL share the machine.`,
      "",
      "Contenders: " +
        Object.entries(report.servers).map(([name, s]) =>
          `**${name}** (${s.description})`
        ).join("; ") + ".",
    );
  }
  lines.push("");
  const summary: string[] = [
    "## Summary: pgrest ÷ each ceiling (req/s, medians)",
    "",
    "replay ÷ pgbench: what HTTP, JavaScript and pgrest's client leave of PostgreSQL's rate (the bound for any server on this stack); pgrest ÷ replay: what pgrest's own work leaves of that bound.",
    "",
    "| scenario | conns | pgrest req/s | ÷ ceiling | ÷ pgbench | ÷ replay | replay ÷ pgbench | ÷ bare | pgrest p50 ms | pgrest p99 ms | pgrest peak RSS MiB |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const cell of report.cells) {
    const p = cell.servers.pgrest;
    const r = cell.ratios;
    summary.push(
      `| ${cell.scenario} | ${cell.connections} | ${
        p === undefined ? "–" : fmtInt(p.rps.median)
      } | ${fmtRatio(r.pgrest_over_ceiling?.rps)} | ${
        fmtRatio(r.pgrest_over_pgbench?.rps)
      } | ${fmtRatio(r.pgrest_over_replay?.rps)} | ${
        fmtRatio(r.replay_over_pgbench?.rps)
      } | ${fmtRatio(r.pgrest_over_bare?.rps)} | ${
        p === undefined ? "–" : fmtMs(p.p50_ms.median)
      } | ${p === undefined ? "–" : fmtMs(p.p99_ms.median)} | ${
        p === undefined || p.peak_rss_mib === null
          ? "–"
          : p.peak_rss_mib.toFixed(0)
      } |`,
    );
  }
  if (report.cells.length > 0) lines.push(...summary, "");
  for (const sc of report.scenarios) {
    const write = sc.rows_per_request !== null;
    lines.push(
      `## ${sc.name}: ${sc.description}`,
      "",
      `| conns | contender | req/s |${
        write ? " rows/s |" : ""
      } p50 ms | p99 ms | peak RSS MiB | errors |`,
      `| ---: | --- | ---: |${
        write ? " ---: |" : ""
      } ---: | ---: | ---: | ---: |`,
    );
    for (const cell of report.cells.filter((c) => c.scenario === sc.name)) {
      for (const [name, s] of Object.entries(cell.servers)) {
        const errs = s.errors + s.non2xx;
        const rows = !write
          ? ""
          : s.rows_per_s === null
          ? " – |"
          : ` ${fmtSpread(s.rows_per_s, fmtInt)} |`;
        lines.push(
          `| ${cell.connections} | ${name} | ${
            fmtSpread(s.rps, fmtInt)
          } |${rows} ${fmtSpread(s.p50_ms, fmtMs)} | ${
            fmtSpread(s.p99_ms, fmtMs)
          } | ${s.peak_rss_mib === null ? "–" : s.peak_rss_mib.toFixed(0)} | ${
            errs === 0 ? "0" : `**${errs}**`
          } |`,
        );
      }
    }
    lines.push(
      "",
      `| conns | pgrest ÷ ceiling req/s | pgrest ÷ pgbench req/s | pgrest ÷ replay req/s | replay ÷ pgbench req/s | pgrest ÷ bare req/s | pgrest ÷ ceiling p50 | pgrest ÷ ceiling p99 | pgrest ÷ pgbench p50 | pgrest ÷ replay p50 |`,
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const cell of report.cells.filter((c) => c.scenario === sc.name)) {
      const c = cell.ratios.pgrest_over_ceiling;
      const g = cell.ratios.pgrest_over_pgbench;
      const r = cell.ratios.pgrest_over_replay;
      const rg = cell.ratios.replay_over_pgbench;
      const b = cell.ratios.pgrest_over_bare;
      lines.push(
        `| ${cell.connections} | ${fmtRatio(c?.rps)} | ${fmtRatio(g?.rps)} | ${
          fmtRatio(r?.rps)
        } | ${fmtRatio(rg?.rps)} | ${fmtRatio(b?.rps)} | ${
          fmtRatio(c?.p50)
        } | ${fmtRatio(c?.p99)} | ${fmtRatio(g?.p50)} | ${fmtRatio(r?.p50)} |`,
      );
    }
    lines.push("");
  }
  if (report.cells.length > 0) {
    lines.push(
      "Peak RSS over the whole run (VmHWM): " +
        Object.entries(report.servers).filter(([, s]) =>
          s.peak_rss_mib !== null
        ).map(([name, s]) => `${name} ${s.peak_rss_mib!.toFixed(0)} MiB`)
          .join(", ") +
        ".",
      "",
    );
  }
  if (report.schema_scale !== null) {
    lines.push(schemaScaleMarkdown(report.schema_scale), "");
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

/** Seconds the schema-scale measurement is given in the time budget. */
const SCHEMA_SCALE_BUDGET_S = 240;

function budgetSeconds(options: Options): number {
  const contenders = SERVERS.length + (options.pgbench ? 1 : 0) +
    (options.replay ? 1 : 0);
  const perCell = contenders *
    (options.warmup + 2 + options.reps * (options.duration + 2));
  const load = options.schemaScale === "only" ? 0 : Math.ceil(
    1.5 * selectedScenarios.length * options.connections.length * perCell,
  );
  return 180 + load +
    (options.schemaScale === "no" ? 0 : SCHEMA_SCALE_BUDGET_S);
}

async function createDataset(cluster: TestCluster): Promise<string> {
  const sql = postgres(cluster.superUri, { max: 1, onnotice: () => {} });
  try {
    for (const statement of datasetSql(AUTHENTICATOR_ROLE)) {
      await sql.unsafe(statement);
    }
    const [row] = await sql<{ v: string }[]>`select version() as v`;
    return row!.v.replace(/ on .*/, "");
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** One thing a load run measures: a server, or pgbench. */
interface Contender {
  readonly name: ContenderName;
  readonly description: string;
  /** The process to watch for peak RSS, or null. */
  readonly pid: number | null;
  serves(scenario: Scenario): boolean;
  run(
    scenario: Scenario,
    connections: number,
    seconds: number,
    seed: number,
  ): Promise<LoadResult>;
}

/** The `{int:LO:HI}` slots of a template and what `() => 0.5` draws. */
function drawnSlots(template: string): DrawnSlot[] {
  return [...template.matchAll(/\{int:(\d+):(\d+)\}/g)].map((m) => {
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    return { lo, hi, value: String(lo + Math.floor(0.5 * (hi - lo + 1))) };
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The HTTP status a scenario's requests must get. */
function expectedStatus(scenario: Scenario): number {
  const w = scenario.write;
  return scenario.status !== undefined
    ? scenario.status
    : w === undefined
    ? 200
    : w.kind === "insert"
    ? 201
    : 204;
}

async function main(options: Options): Promise<void> {
  const t0 = Date.now();
  log("starting PostgreSQL");
  const starting = startTestCluster({ fresh: true });
  cleanups.push(async () => {
    const c = await starting.catch(() => null);
    await c?.stop();
  });
  const cluster = await starting;
  let report: Report;
  if (options.schemaScale === "only") {
    const scale = await measureSchemaScale(cluster, {
      log,
      cleanups,
      runs: options.quick ? 2 : 5,
    });
    const cpus = os.cpus();
    report = {
      generated_at: new Date().toISOString(),
      host: {
        cpus: cpus.length,
        cpu_model: cpus[0]?.model.trim() ?? "unknown",
        os: `${os.type()} ${os.release()}`,
        deno: Deno.version.deno,
        postgres: scale.postgres,
      },
      options: { schema_scale_only: true },
      servers: {},
      scenarios: [],
      cells: [],
      pgbench_scripts: {},
      schema_scale: scale,
    };
  } else {
    report = await loadRuns(options, cluster, t0);
  }
  const outDir = options.out.replace(/\/[^/]*$/, "");
  if (outDir && outDir !== options.out) {
    await Deno.mkdir(outDir, { recursive: true });
  }
  await Deno.writeTextFile(options.out, JSON.stringify(report, null, 2) + "\n");
  print(markdown(report) + "\n");
  log(`wrote ${options.out} (${Math.round((Date.now() - t0) / 1000)} s)`);
}

async function loadRuns(
  options: Options,
  cluster: TestCluster,
  t0: number,
): Promise<Report> {
  const loader = await chooseLoader(options);
  log(`loader: ${loader.kind}`);
  const pgVersion = await createDataset(cluster);
  log(`dataset ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  // The superuser's connection for resetting and counting the write tables.
  const admin = postgres(cluster.superUri, { max: 1, onnotice: () => {} });
  cleanups.push(() => admin.end({ timeout: 5 }));
  /** Puts a write scenario's table back (no-op for reads). */
  const reset = async (scenario: Scenario) => {
    if (!scenario.write) return;
    for (const st of resetSql(scenario.write)) await admin.unsafe(st);
  };
  /** Rows in a write scenario's table and a digest of their contents. */
  const tableState = async (table: string) => {
    const [row] = await admin.unsafe<
      {
        n: number;
        lo: number | null;
        hi: number | null;
        changed: number;
        digest: string;
      }[]
    >(
      `select count(*)::int as n, min(id)::int as lo, max(id)::int as hi,
              count(*) filter (where price <> 0)::int as changed,
              md5(coalesce(string_agg(name || '|' || price::text, ',' order by id), '')) as digest
         from ${table}`,
    );
    return row!;
  };

  // Bodies go to the load generators (and pgbench scripts) as files.
  const tmp = await Deno.makeTempDir({ prefix: "pgrest-bench-" });
  cleanups.push(() => Deno.remove(tmp, { recursive: true }));
  const targets = new Map<string, LoadTarget>();
  for (const scenario of selectedScenarios) {
    let bodyFile: string | null = null;
    if (scenario.body !== undefined) {
      bodyFile = `${tmp}/${scenario.name}.body`;
      await Deno.writeTextFile(bodyFile, scenario.body);
    }
    targets.set(scenario.name, {
      path: scenario.path,
      method: scenario.method ?? "GET",
      bodyFile,
      headers: Object.entries(scenario.headers ?? {}).map(([k, v]) =>
        `${k}: ${v}`
      ),
    });
  }

  const probe = expandPath(
    (selectedScenarios.find((s) => !s.write && !s.method) ?? SCENARIOS[0]!)
      .path,
    () => 0,
  );
  const servers: RunningServer[] = [];
  for (const spec of SERVERS) {
    servers.push(await startBenchServer(spec, cluster, probe));
    log(`${spec.name} ready (pid ${servers.at(-1)!.pid})`);
  }
  const pgrest = servers.find((s) => s.spec.name === "pgrest")!;

  /** One request of the scenario, drawn with `() => 0.5`. */
  const sendOnce = async (s: RunningServer, scenario: Scenario) => {
    const path = expandPath(scenario.path, () => 0.5);
    const body = scenario.body === undefined
      ? undefined
      : expandPath(scenario.body, () => 0.5);
    const res = await fetch(s.url + path, {
      method: scenario.method ?? "GET",
      headers: scenario.headers ?? {},
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text().catch((e: unknown) => {
      throw new Error(
        `${s.spec.name} ${scenario.method ?? "GET"} ${path}: ${
          e instanceof Error ? e.message : String(e)
        }\n${s.output().slice(-2000)}`,
      );
    });
    // bare answers every GET 200; the database-backed servers as pgrest
    if (
      s.spec.name === "bare"
        ? res.status < 200 || res.status > 299
        : res.status !== expectedStatus(scenario)
    ) {
      throw new Error(
        `${s.spec.name} ${
          scenario.method ?? "GET"
        } ${path}: ${res.status} ${text}`,
      );
    }
    return { path, body: body ?? null, text };
  };

  /**
   * One request of the scenario on a reset table, checked: its status, and
   * what a database-backed server answered (reads: the body as normalised
   * JSON) or left (writes: the rows, which must be the request's); null
   * for bare.
   */
  const answerOf = async (s: RunningServer, scenario: Scenario) => {
    const write = scenario.write;
    await reset(scenario);
    const { path, text } = await sendOnce(s, scenario);
    const shown = `${scenario.method ?? "GET"} ${path}`;
    if (s.spec.name === "bare") return { shown, answer: null };
    if (!write) return { shown, answer: JSON.stringify(JSON.parse(text)) };
    if (text !== "") {
      throw new Error(`${s.spec.name} ${path}: unexpected body ${text}`);
    }
    const st = await tableState(write.table);
    const ok = write.kind === "insert"
      ? st.n === write.rows && st.lo === 1 && st.hi === write.rows
      : st.changed === write.rows;
    if (!ok) {
      throw new Error(
        `${s.spec.name} ${path}: expected ${write.rows} rows ${
          write.kind === "insert" ? "inserted" : "updated"
        } in ${write.table}, found ${st.n} rows (${st.lo}..${st.hi}), ${st.changed} with a price`,
      );
    }
    return { shown, answer: `${st.n} rows, md5 ${st.digest}` };
  };

  // Sanity: the database-backed servers must give the same answer (reads)
  // or leave the same rows (writes); every server must answer as expected.
  /** pgrest's checked answer per scenario, for the replay server's check. */
  const pgrestAnswers = new Map<string, string>();
  for (const scenario of selectedScenarios) {
    const answers: (readonly [string, string])[] = [];
    let shown = "";
    for (const s of servers) {
      if (!s.spec.serves(scenario)) continue;
      const checked = await answerOf(s, scenario);
      shown = checked.shown;
      if (checked.answer !== null) {
        answers.push([s.spec.name, checked.answer]);
        if (s === pgrest) pgrestAnswers.set(scenario.name, checked.answer);
      }
    }
    await reset(scenario);
    if (new Set(answers.map(([, b]) => b)).size > 1) {
      throw new Error(
        `servers disagree on ${shown}:\n${
          answers.map(([n, b]) => `${n}: ${b}`).join("\n")
        }`,
      );
    }
    const answer = answers[0]?.[1] ?? "";
    log(
      `${scenario.name}: ${shown} -> ${
        answer.length > 160
          ? `${answer.slice(0, 160)}… (${answer.length} chars)`
          : answer
      }`,
    );
  }

  // pgbench and replay: capture what pgrest sends for one request of each
  // scenario.
  /** The captured transaction per scenario, with the request it answered. */
  const captures = new Map<string, {
    readonly statements: readonly CapturedStatement[];
    readonly body: string | null;
  }>();
  const pgbenchScripts = new Map<
    string,
    { file: string; defines: readonly (readonly [string, string])[] }
  >();
  const pgbenchScriptsReport: Report["pgbench_scripts"] = {};
  const pgbenchPath = options.pgbench ? await onPath("pgbench") : null;
  if (options.pgbench && pgbenchPath === null) {
    log("pgbench is not installed: no pgbench ceiling");
  }
  const capture = pgbenchPath !== null || options.replay;
  if (capture && cluster.socketDir === null) {
    log("no server log to capture from: no pgbench ceiling, no replay");
  }
  if (capture && cluster.socketDir !== null) {
    const logPath = `${cluster.socketDir}/postgres.log`;
    const setAll = async (on: boolean) => {
      for (const [k, v] of STATEMENT_LOG_SETTINGS) {
        await admin.unsafe(
          on ? `alter system set ${k} = '${v}'` : `alter system reset ${k}`,
        );
      }
      await admin.unsafe("select pg_reload_conf()");
      // backends apply the reload before their next statement
      await sleep(300);
    };
    await setAll(true);
    try {
      for (const scenario of selectedScenarios) {
        try {
          await reset(scenario);
          const offset = (await Deno.stat(logPath)).size;
          const { path, body } = await sendOnce(pgrest, scenario);
          await sleep(200);
          const text = new TextDecoder().decode(
            (await Deno.readFile(logPath)).subarray(offset),
          );
          const statements = parseStatementLog(text, "pgrest");
          captures.set(scenario.name, { statements, body });
          log(`${scenario.name}: captured ${statements.length} statements`);
          if (pgbenchPath !== null) {
            try {
              const { script, defines } = pgbenchScript(
                statements,
                drawnSlots(scenario.path),
                `${scenario.name}: the transaction pgrest ran for\n${
                  scenario.method ?? "GET"
                } ${path}`,
              );
              const scriptFile = `${tmp}/${scenario.name}.pgbench`;
              await Deno.writeTextFile(scriptFile, script);
              pgbenchScripts.set(scenario.name, { file: scriptFile, defines });
              pgbenchScriptsReport[scenario.name] = {
                script,
                defines: Object.fromEntries(defines),
              };
            } catch (e) {
              log(
                `${scenario.name}: no pgbench ceiling: ${
                  e instanceof Error ? e.message : String(e)
                }`,
              );
            }
          }
        } catch (e) {
          log(
            `${scenario.name}: no capture (no pgbench ceiling, no replay): ${
              e instanceof Error ? e.message : String(e)
            }`,
          );
        } finally {
          await reset(scenario);
        }
      }
    } finally {
      await setAll(false);
    }
  }

  // replay: started now that the transactions are captured, and checked as
  // the other servers were (status, and pgrest's answer or rows).
  if (options.replay && captures.size > 0) {
    const routes: ReplayRoute[] = selectedScenarios.flatMap((sc) => {
      const c = captures.get(sc.name);
      if (c === undefined) return [];
      const prefer = Object.entries(sc.headers ?? {}).find(([k]) =>
        k.toLowerCase() === "prefer"
      )?.[1] ?? "";
      return [{
        name: sc.name,
        method: sc.method ?? "GET",
        path: sc.path,
        status: expectedStatus(sc),
        answerBody: !/\breturn=minimal\b/.test(prefer),
        statements: c.statements,
        slots: drawnSlots(sc.path),
        body: c.body,
      }];
    });
    const file = `${tmp}/replay.json`;
    const replayFile: ReplayFile = { routes };
    await Deno.writeTextFile(file, JSON.stringify(replayFile));
    const replay = await startBenchServer(
      replaySpec(file, new Set(captures.keys())),
      cluster,
      REPLAY_READY_PATH,
    );
    log(`replay ready (pid ${replay.pid})`);
    // after pgrest and the ceiling, before bare
    servers.splice(servers.findIndex((s) => s.spec.name === "bare"), 0, replay);
    for (const scenario of selectedScenarios) {
      if (!replay.spec.serves(scenario)) continue;
      const { shown, answer } = await answerOf(replay, scenario);
      await reset(scenario);
      const expected = pgrestAnswers.get(scenario.name);
      if (answer !== expected) {
        throw new Error(
          `replay and pgrest disagree on ${shown}:\npgrest: ${expected}\nreplay: ${answer}`,
        );
      }
    }
    log(`replay: ${routes.length} scenarios answer as pgrest does`);
  }

  const contenders: Contender[] = servers.map((s) => ({
    name: s.spec.name,
    description: s.spec.description,
    pid: s.pid,
    serves: (scenario) => s.spec.serves(scenario),
    run: (scenario, connections, seconds, seed) =>
      runLoad(
        loader,
        s.url,
        targets.get(scenario.name)!,
        connections,
        seconds,
        seed,
      ),
  }));
  if (pgbenchScripts.size > 0) {
    const env = baseEnv();
    for (const k of Object.keys(env)) if (k.startsWith("PG")) delete env[k];
    // pgbench -M prepared prepares a script's statements before its first
    // one runs, before the transaction's set_config('role', …): the
    // session starts in the request role (as the ceiling's connections do)
    // so that the main statements can be prepared.
    env.PGOPTIONS = `-c role=${BENCH_ROLE}`;
    const cp = new URL(cluster.uri);
    // pgbench goes after the database-backed servers, before bare
    contenders.splice(contenders.findIndex((c) => c.name === "bare"), 0, {
      name: "pgbench",
      description:
        `pgbench -M prepared -n, the statements pgrest sends for one request, pipelined, as ${AUTHENTICATOR_ROLE} with session role ${BENCH_ROLE} (one connection per client)`,
      pid: null,
      serves: (scenario) => pgbenchScripts.has(scenario.name),
      run: (scenario, connections, seconds) => {
        const sc = pgbenchScripts.get(scenario.name)!;
        return runPgbench({
          pgbench: pgbenchPath!,
          host: dbSocket && cluster.socketDir !== null
            ? cluster.socketDir
            : cp.hostname,
          port: Number(cp.port),
          user: decodeURIComponent(cp.username),
          database: cp.pathname.slice(1),
          scriptFile: sc.file,
          defines: sc.defines,
          connections,
          threads: options.threads,
          seconds,
          logDir: tmp,
          env,
          onSpawn: (kill) => {
            cleanups.push(kill);
            return () => {
              if (cleaning === null) {
                cleanups.splice(cleanups.indexOf(kill), 1);
              }
            };
          },
        });
      },
    });
  }

  const overallPeak = new Map<ContenderName, number | null>();
  for (const c of contenders) {
    const kib = c.pid === null ? null : await peakRssKiB(c.pid);
    overallPeak.set(c.name, kib === null ? null : kib / 1024);
  }
  const bumpPeak = (name: ContenderName, mib: number | null) => {
    const prev = overallPeak.get(name) ?? null;
    if (mib !== null) overallPeak.set(name, Math.max(prev ?? 0, mib));
  };

  const checkAlive = () => {
    for (const s of servers) {
      const st = s.exitStatus();
      if (st !== null) {
        throw new Error(
          `${s.spec.name} exited (code ${st.code}):\n${s.output()}`,
        );
      }
    }
  };

  /**
   * One load run on a reset table (writes); returns the result and, for
   * inserts by anything but bare, the rows the run left in the table.
   */
  const measure = async (
    c: Contender,
    scenario: Scenario,
    connections: number,
    seconds: number,
    seed: number,
  ): Promise<[LoadResult, number | null]> => {
    await reset(scenario);
    const result = await c.run(scenario, connections, seconds, seed);
    checkAlive();
    const write = scenario.write;
    if (!write || write.kind !== "insert" || c.name === "bare") {
      return [result, null];
    }
    const { n } = await tableState(write.table);
    // In-flight requests at the end may have inserted without being counted.
    const answered = result.requests - result.errors.status;
    if (n < answered * write.rows) {
      log(
        `warning: ${scenario.name} ${c.name}: ${n} rows in ${write.table} after ${answered} answered requests of ${write.rows} rows`,
      );
    }
    return [result, n];
  };

  const cells: Cell[] = [];
  for (const scenario of selectedScenarios) {
    const active = contenders.filter((c) => c.serves(scenario));
    const rowsPerRequest = scenario.write?.rows ?? null;
    for (const connections of options.connections) {
      const tag = `${scenario.name} c=${connections}`;
      let resettable = true;
      for (const c of active) {
        if (c.pid !== null) resettable &&= await resetPeakRss(c.pid);
      }
      if (options.warmup > 0) {
        for (const c of active) {
          log(`${tag} warm-up ${c.name} ${options.warmup} s`);
          await measure(c, scenario, connections, options.warmup, 1000);
        }
      }
      const samples = new Map<ContenderName, Sample[]>(
        active.map((c) => [c.name, []]),
      );
      for (let rep = 0; rep < options.reps; rep++) {
        const order = active.map((_, i) => active[(i + rep) % active.length]!);
        for (const c of order) {
          const [result, rowsInTable] = await measure(
            c,
            scenario,
            connections,
            options.duration,
            rep + 1,
          );
          const sample = toSample(rep + 1, result, rowsInTable);
          samples.get(c.name)!.push(sample);
          log(
            `${tag} rep ${rep + 1}/${options.reps} ${c.name}: ${
              fmtInt(sample.rps)
            } req/s${
              rowsPerRequest !== null && rowsPerRequest > 1 &&
                c.name !== "bare"
                ? ` (${fmtInt(sample.rps * rowsPerRequest)} rows/s)`
                : ""
            }, p50 ${fmtMs(sample.p50_ms)} ms, p99 ${fmtMs(sample.p99_ms)} ms${
              sample.errors + sample.non2xx > 0
                ? `, ${sample.errors} errors, ${sample.non2xx} non-2xx`
                : ""
            }`,
          );
        }
      }
      await reset(scenario);
      const cellServers: Partial<Record<ContenderName, ServerCell>> = {};
      for (const c of active) {
        const list = samples.get(c.name)!;
        const kib = c.pid === null ? null : await peakRssKiB(c.pid);
        const mib = kib === null ? null : kib / 1024;
        bumpPeak(c.name, mib);
        cellServers[c.name] = {
          rps: spread(list.map((x) => x.rps)),
          rows_per_s: rowsPerRequest === null || c.name === "bare"
            ? null
            : spread(list.map((x) => x.rps * rowsPerRequest)),
          p50_ms: spread(list.map((x) => x.p50_ms)),
          p99_ms: spread(list.map((x) => x.p99_ms)),
          peak_rss_mib: mib,
          errors: list.reduce((a, x) => a + x.errors, 0),
          non2xx: list.reduce((a, x) => a + x.non2xx, 0),
          samples: list,
        };
      }
      if (!resettable) log("could not reset VmHWM: peaks are cumulative");
      cells.push({
        scenario: scenario.name,
        connections,
        servers: cellServers,
        ratios: {
          pgrest_over_ceiling: ratios(
            cellServers.pgrest,
            cellServers.ceiling,
          ),
          pgrest_over_pgbench: ratios(
            cellServers.pgrest,
            cellServers.pgbench,
          ),
          pgrest_over_replay: ratios(cellServers.pgrest, cellServers.replay),
          replay_over_pgbench: ratios(
            cellServers.replay,
            cellServers.pgbench,
          ),
          pgrest_over_bare: ratios(cellServers.pgrest, cellServers.bare),
        },
      });
    }
  }

  // The load servers are done: stop them before the schema-scale runs.
  for (const s of servers) await s.stop();
  const scale = options.schemaScale === "yes"
    ? await measureSchemaScale(cluster, {
      log,
      cleanups,
      runs: options.quick ? 2 : 5,
    })
    : null;

  const cpus = os.cpus();
  return {
    generated_at: new Date().toISOString(),
    host: {
      cpus: cpus.length,
      cpu_model: cpus[0]?.model.trim() ?? "unknown",
      os: `${os.type()} ${os.release()}`,
      deno: Deno.version.deno,
      postgres: pgVersion,
    },
    options: {
      loader: loader.kind,
      wrk_threads: loader.kind === "wrk" ? options.threads : null,
      pgbench_threads: pgbenchScripts.size > 0 ? options.threads : null,
      duration_s: options.duration,
      reps: options.reps,
      warmup_s: options.warmup,
      connections: options.connections,
      quick: options.quick,
      db_pool: POOL,
      wall_s: Math.round((Date.now() - t0) / 1000),
    },
    servers: Object.fromEntries(
      contenders.map((c) => [c.name, {
        description: c.description,
        peak_rss_mib: overallPeak.get(c.name) ?? null,
      }]),
    ),
    scenarios: selectedScenarios.map((s) => ({
      name: s.name,
      description: s.description,
      method: s.method ?? "GET",
      path: s.path,
      rows_per_request: s.write?.rows ?? null,
    })),
    cells,
    pgbench_scripts: pgbenchScriptsReport,
    schema_scale: scale,
  };
}

if (import.meta.main) {
  let options: Options | null;
  try {
    options = parseOptions(Deno.args);
  } catch (e) {
    log(e instanceof Error ? e.message : String(e));
    print(USAGE);
    Deno.exit(2);
  }
  if (options === null) {
    print(USAGE);
    Deno.exit(0);
  }
  Deno.addSignalListener("SIGINT", () => abort("SIGINT", 130));
  Deno.addSignalListener("SIGTERM", () => abort("SIGTERM", 143));
  const budget = options.timeout ?? budgetSeconds(options);
  const timer = setTimeout(
    () => abort(`time budget of ${budget} s exceeded`, 124),
    budget * 1000,
  );
  let code = 0;
  try {
    await main(options);
  } catch (e) {
    if (cleaning === null) {
      log(`failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      code = 1;
    }
  } finally {
    clearTimeout(timer);
    await cleanup();
  }
  Deno.exit(code);
}
