/**
 * The benchmark's database ceiling: pgbench running, per transaction,
 * exactly the statements pgrest sends for one request of a scenario.
 *
 * Capture: bench/run.ts turns on `log_statement = 'all'` in its private
 * cluster (with a line prefix that carries the backend pid and the
 * application name, {@linkcode STATEMENT_LOG_SETTINGS}), sends one request
 * of the scenario to pgrest, and hands the new part of the server log to
 * {@linkcode parseStatementLog}: the statements that pgrest's connection
 * (application_name `pgrest`) ran for it, each with the parameter values
 * the server logged for it (`DETAIL:  parameters: $1 = '…', …`): a
 * `BEGIN` … `COMMIT`/`ROLLBACK` block, or, for a transaction that
 * commits, the statements pgrest sends behind one Sync as the protocol's
 * implicit transaction (no BEGIN, no COMMIT).
 *
 * Script: {@linkcode pgbenchScript} writes those statements into a pgbench
 * script between `\startpipeline` and `\endpipeline` (pgrest sends a
 * request's statements pipelined, in one round trip; pgbench sends one
 * Sync at `\endpipeline`, so statements without BEGIN share one implicit
 * transaction there too), each `$n` replaced by
 * a pgbench variable. The values are those of the captured request, passed
 * with `-D name=value`, except a value that equals a number drawn for a
 * `{int:LO:HI}` slot of the scenario's path: it becomes
 * `\set name random(LO, HI)`, drawn per transaction as the load generators
 * draw it per request. With `-M prepared` every statement is prepared once
 * per connection and its parameters are sent as text of unspecified type,
 * as postgres.js sends pgrest's strings, so the server sees the same
 * statements with the same kind of parameters.
 *
 * Run: {@linkcode runPgbench} runs `pgbench -n -M prepared -c C -j J -T S`
 * as the authenticator role and reads the per-transaction log (`-l`) for
 * the latency percentiles.
 *
 * @module
 */

/** `ALTER SYSTEM` settings for the capture (a reload applies them). */
export const STATEMENT_LOG_SETTINGS: readonly (readonly [string, string])[] = [
  ["log_statement", "all"],
  ["log_line_prefix", "@@bench@@%p@@%a@@ "],
];

/** One statement as the server logged it. */
export interface CapturedStatement {
  readonly text: string;
  /** Parameter values ($1 first); null for SQL NULL. */
  readonly params: readonly (string | null)[];
}

/** One log record: backend pid, application name, level, message. */
interface LogRecord {
  readonly pid: string;
  readonly app: string;
  readonly level: string;
  readonly message: string;
}

const RECORD = /^@@bench@@(\d+)@@(.*?)@@ ([A-Z]+): {2}([\s\S]*)$/;

function records(log: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const chunk of log.split(/\n(?=@@bench@@)/)) {
    const m = RECORD.exec(chunk.replace(/\n$/, ""));
    if (m === null) continue;
    out.push({ pid: m[1]!, app: m[2]!, level: m[3]!, message: m[4]! });
  }
  return out;
}

/**
 * Parses the values of `parameters: $1 = 'a''b', $2 = NULL`.
 *
 * @throws Error when the text has another shape
 */
export function parseLogParameters(detail: string): (string | null)[] {
  const out: (string | null)[] = [];
  let i = 0;
  const fail = () => new Error(`cannot parse log parameters: ${detail}`);
  while (i < detail.length) {
    const m = /^\$(\d+) = /.exec(detail.slice(i));
    if (m === null || Number(m[1]) !== out.length + 1) throw fail();
    i += m[0].length;
    if (detail.startsWith("NULL", i)) {
      out.push(null);
      i += 4;
    } else if (detail[i] === "'") {
      let value = "";
      i++;
      while (true) {
        const q = detail.indexOf("'", i);
        if (q < 0) throw fail();
        value += detail.slice(i, q);
        if (detail[q + 1] === "'") {
          value += "'";
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(value);
    } else throw fail();
    if (i < detail.length) {
      if (!detail.startsWith(", ", i)) throw fail();
      i += 2;
    }
  }
  return out;
}

/**
 * The statements of one request's transaction that backends of application
 * `app` logged in `log` (server log text written with
 * {@linkcode STATEMENT_LOG_SETTINGS}, covering that one request): the last
 * complete `BEGIN …` to `COMMIT`/`ROLLBACK` block if there is one, else
 * every statement logged (pgrest runs a transaction that commits as the
 * statements of one protocol-level implicit transaction, without BEGIN or
 * COMMIT), which must then come from one backend.
 *
 * @throws Error when the log holds no statement of `app`, or statements
 * of several backends and no BEGIN block
 */
export function parseStatementLog(
  log: string,
  app: string,
): CapturedStatement[] {
  type Logged = { text: string; params: (string | null)[] };
  const byPid = new Map<string, Logged[]>();
  const all: { pid: string; st: Logged }[] = [];
  let last: CapturedStatement[] | null = null;
  for (const r of records(log)) {
    if (r.app !== app) continue;
    const list = byPid.get(r.pid) ?? [];
    byPid.set(r.pid, list);
    if (r.level === "LOG") {
      const simple = /^statement: ([\s\S]*)$/.exec(r.message);
      const extended = /^execute [^:]*: ([\s\S]*)$/.exec(r.message);
      const text = simple?.[1] ?? extended?.[1];
      if (text === undefined) continue;
      const st: Logged = { text, params: [] };
      all.push({ pid: r.pid, st });
      if (/^\s*BEGIN\b/i.test(text)) list.length = 0;
      list.push(st);
      if (/^\s*(COMMIT|ROLLBACK)\s*$/i.test(text)) {
        if (list.length > 0 && /^\s*BEGIN\b/i.test(list[0]!.text)) {
          last = list.map((s) => ({ text: s.text, params: s.params }));
        }
        list.length = 0;
      }
    } else if (r.level === "DETAIL" && r.message.startsWith("parameters: ")) {
      const st = all.at(-1);
      if (st !== undefined && st.pid === r.pid) {
        st.st.params = parseLogParameters(
          r.message.slice("parameters: ".length),
        );
      }
    }
  }
  if (last !== null) return last;
  if (all.length === 0) {
    throw new Error(`no statement of ${app} in the statement log`);
  }
  if (new Set(all.map((x) => x.pid)).size > 1) {
    throw new Error(
      `statements of ${app} from several backends and no BEGIN block`,
    );
  }
  return all.map(({ st }) => ({ text: st.text, params: st.params }));
}

/** A `{int:LO:HI}` slot of a path template with the value drawn for it. */
export interface DrawnSlot {
  readonly lo: number;
  readonly hi: number;
  readonly value: string;
}

/** A pgbench script and the `-D` variables it needs. */
export interface PgbenchScript {
  readonly script: string;
  readonly defines: readonly (readonly [string, string])[];
}

/**
 * Writes captured statements as one pipelined pgbench transaction (see the
 * module comment).
 *
 * @throws Error for what pgbench cannot send: a NULL parameter, a `:name`
 * in the text that pgbench would take for a variable, more than 255
 * parameters in a statement
 */
export function pgbenchScript(
  statements: readonly CapturedStatement[],
  slots: readonly DrawnSlot[],
  comment: string,
): PgbenchScript {
  const defines: [string, string][] = [];
  const sets: string[] = [];
  const body: string[] = [];
  statements.forEach((st, s) => {
    // pgbench rewrites `:name` (but not `::`) anywhere, quotes included
    const stray = /(?<!:):[A-Za-z_]/.exec(st.text.replaceAll("::", "  "));
    if (stray !== null) {
      throw new Error(`pgbench would read a variable in: ${st.text}`);
    }
    if (st.params.length > 255) {
      throw new Error(`pgbench takes at most 255 parameters per statement`);
    }
    const names = st.params.map((value, p) => {
      if (value === null) throw new Error("pgbench cannot bind NULL");
      const k = slots.findIndex((sl) => sl.value === value);
      if (k >= 0) return `r${k + 1}`;
      const name = `q${s + 1}_${p + 1}`;
      defines.push([name, value]);
      return name;
    });
    const text = st.text.trim().replace(
      /\$(\d+)(?!\d)/g,
      (all, n: string) => {
        const name = names[Number(n) - 1];
        return name === undefined ? all : `:${name}`;
      },
    );
    body.push(`${text.replace(/;\s*$/, "")};`);
  });
  slots.forEach((sl, k) => {
    sets.push(`\\set r${k + 1} random(${sl.lo}, ${sl.hi})`);
  });
  const script = [
    ...comment.split("\n").map((l) => `-- ${l}`),
    ...sets,
    "\\startpipeline",
    ...body,
    "\\endpipeline",
    "",
  ].join("\n");
  return { script, defines };
}

/** Where and how to run pgbench. */
export interface PgbenchRun {
  readonly pgbench: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly scriptFile: string;
  readonly defines: readonly (readonly [string, string])[];
  readonly connections: number;
  readonly threads: number;
  readonly seconds: number;
  /** A directory for the transaction logs (removed files after reading). */
  readonly logDir: string;
  /** Environment for the child (no PG* variables). */
  readonly env: Record<string, string>;
  /** Registers a kill for cleanups; returns its deregistration. */
  readonly onSpawn?: (kill: () => Promise<void>) => () => void;
}

/** The same fields as a wrk or load.mjs result (latencies in µs). */
export interface PgbenchResult {
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

let runCounter = 0;

/**
 * Runs pgbench once; `requests` are the transactions processed and the
 * rate is pgbench's tps without the initial connection time.
 *
 * @throws Error with pgbench's output when it fails
 */
export async function runPgbench(r: PgbenchRun): Promise<PgbenchResult> {
  const prefix = `pgblog${++runCounter}`;
  const child = new Deno.Command(r.pgbench, {
    args: [
      "-n",
      "-M",
      "prepared",
      "-c",
      String(r.connections),
      "-j",
      String(Math.min(r.threads, r.connections)),
      "-T",
      String(r.seconds),
      "-h",
      r.host,
      "-p",
      String(r.port),
      "-U",
      r.user,
      "-f",
      r.scriptFile,
      "-l",
      `--log-prefix=${r.logDir}/${prefix}`,
      ...r.defines.flatMap(([k, v]) => ["-D", `${k}=${v}`]),
      r.database,
    ],
    env: r.env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status.catch(() => {});
  };
  const unregister = r.onSpawn?.(kill) ?? (() => {});
  const timer = setTimeout(() => void kill(), (r.seconds + 30) * 1000);
  let out: Deno.CommandOutput;
  try {
    out = await child.output();
  } finally {
    clearTimeout(timer);
    unregister();
  }
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  const latencies: number[] = [];
  for await (const entry of Deno.readDir(r.logDir)) {
    if (!entry.name.startsWith(`${prefix}.`)) continue;
    const path = `${r.logDir}/${entry.name}`;
    for (const line of (await Deno.readTextFile(path)).split("\n")) {
      const us = Number(line.split(" ")[2]);
      if (line !== "" && Number.isFinite(us)) latencies.push(us);
    }
    await Deno.remove(path);
  }
  const processed = /number of transactions actually processed: (\d+)/.exec(
    text,
  );
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(text);
  // no tps line when no transaction finished in time
  if (
    !out.success || processed === null || (tps === null && processed[1] !== "0")
  ) {
    throw new Error(`pgbench failed (exit ${out.code}):\n${text.slice(-4000)}`);
  }
  const failed = Number(/number of failed transactions: (\d+)/.exec(text)?.[1]);
  const requests = Number(processed[1]);
  const rate = tps === null ? 0 : Number(tps[1]);
  const sorted = Float64Array.from(latencies).sort();
  const pct = (p: number) =>
    sorted.length === 0
      ? 0
      : sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)]!;
  return {
    requests,
    duration_us: rate > 0 ? Math.round(requests / rate * 1e6) : r.seconds * 1e6,
    bytes: 0,
    p50_us: Math.round(pct(0.5)),
    p90_us: Math.round(pct(0.9)),
    p99_us: Math.round(pct(0.99)),
    max_us: Math.round(sorted.at(-1) ?? 0),
    mean_us: sorted.length === 0
      ? 0
      : Math.round(sorted.reduce((a, b) => a + b, 0) / sorted.length * 10) /
        10,
    errors: {
      connect: 0,
      read: 0,
      write: 0,
      timeout: 0,
      status: Number.isFinite(failed) ? failed : 0,
    },
  };
}
