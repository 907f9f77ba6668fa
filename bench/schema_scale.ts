/**
 * The schema-scale measurement (issue 8): how long pgrest takes to load the
 * schema cache of a large schema, and to answer its first request.
 *
 * In the benchmark's private cluster it creates the database
 * `pgrest_scale` with the schema `scale`: {@linkcode SCALE_TABLES} tables
 * (`t0001` …, each `id` primary key, three more columns and three foreign
 * keys to other tables: {@linkcode SCALE_TABLES} × 3 foreign keys), and
 * {@linkcode SCALE_FUNCTIONS} functions (half scalar SQL functions of two
 * ints, half `setof` one of the tables), all granted to the NOLOGIN role
 * `scale_anon`; and the schema `tiny` with one table, for the baseline.
 * Then, after one unmeasured warm-up of each:
 *
 * - **cache load in process**, `--runs` times: pgrest's own
 *   `loadSchemaCache` (src/schema_cache/load.ts) over a postgres.js pool of
 *   10 connections as the authenticator, as pgrest runs it; broken down
 *   into each catalog query run alone (sequentially) and the JavaScript
 *   that builds the cache (the same call answered from rows fetched
 *   before: no database);
 * - **pgrest process**, `--runs` times: `deno run -A main.ts` on the
 *   `scale` schema, timed from spawn to the first 200 answer to
 *   `GET /t0001?limit=1` (polled every 5 ms), and its own load time, the
 *   admin server's `pgrst_schema_cache_query_time_seconds`;
 * - **baseline**: the same process on the `tiny` schema of the same
 *   database: start-up cost with an almost empty schema cache;
 * - **with views**: after adding {@linkcode SCALE_VIEWS} views (each
 *   `select *` of one table, so every foreign key of those tables is also
 *   a relationship of the views), the in-process load again.
 *
 * The targets are a cache load under 1 s and a first answer under 1.5 s.
 * bench/run.ts runs this after the load runs (`--no-schema-scale` skips
 * it, `--schema-scale` runs only this); alone:
 * `deno run -A bench/schema_scale.ts [--runs N]` prints the Markdown.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import postgres from "postgres";
import {
  FOREIGN_KEYS_SQL,
  MEDIA_HANDLERS_SQL,
  PRIVILEGES_SQL,
  RELATIONS_SQL,
  ROLE_SETTINGS_SQL,
  ROUTINES_SQL,
  TABLES_SQL,
  VIEWS_SQL,
} from "../src/schema_cache/catalog_sql.ts";
import {
  type CatalogQuery,
  loadSchemaCache,
} from "../src/schema_cache/load.ts";
import { freePort } from "../tests/harness/free_port.ts";
import {
  AUTHENTICATOR_ROLE,
  startTestCluster,
  type TestCluster,
} from "../tests/harness/with_pg.ts";

/** Tables in the generated schema. */
export const SCALE_TABLES = 1_000;
/** Foreign keys per table. */
export const FKS_PER_TABLE = 3;
/** Views added for the last measurement (`select *` of the first tables). */
export const SCALE_VIEWS = 500;
/** Functions in the generated schema. */
export const SCALE_FUNCTIONS = 2_000;
/** Target: schema cache load, ms. */
export const TARGET_LOAD_MS = 1_000;
/** Target: spawn to first answer, ms. */
export const TARGET_FIRST_ANSWER_MS = 1_500;

const DATABASE = "pgrest_scale";
const SCHEMA = "scale";
const TINY_SCHEMA = "tiny";
const ROLE = "scale_anon";
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CATALOG_NAMES = new Map<string, string>([
  [TABLES_SQL, "tables"],
  [FOREIGN_KEYS_SQL, "foreign keys"],
  [ROUTINES_SQL, "routines"],
  [VIEWS_SQL, "views"],
  [RELATIONS_SQL, "view relations"],
  [ROLE_SETTINGS_SQL, "role settings"],
  [MEDIA_HANDLERS_SQL, "media handlers"],
  [PRIVILEGES_SQL, "privileges"],
]);

/** Median, min and max. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function spread(values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/** What {@linkcode measureSchemaScale} reports (times in ms). */
export interface SchemaScaleReport {
  readonly postgres: string;
  readonly tables: number;
  readonly foreign_keys: number;
  readonly functions: number;
  readonly runs: number;
  readonly generate_ms: number;
  /** loadSchemaCache in process, as pgrest runs it (pool of 10). */
  readonly load_ms: Spread;
  /** Each catalog query alone, run one after the other. */
  readonly query_ms: Readonly<Record<string, Spread>>;
  /** Rows per catalog query. */
  readonly query_rows: Readonly<Record<string, number>>;
  /** loadSchemaCache answered from rows fetched before: JavaScript only. */
  readonly js_ms: Spread;
  /** pgrest's pgrst_schema_cache_query_time_seconds, in ms. */
  readonly server_load_ms: Spread;
  /** Spawn of `deno run -A main.ts` to the first 200 answer. */
  readonly first_answer_ms: Spread;
  /** The same on the one-table `tiny` schema of the same database. */
  readonly baseline_first_answer_ms: Spread;
  readonly baseline_server_load_ms: Spread;
  /** Views then added (over the first tables, `select *`). */
  readonly views: number;
  /** loadSchemaCache in process with those views. */
  readonly with_views_load_ms: Spread;
  /** … its JavaScript alone. */
  readonly with_views_js_ms: Spread;
  readonly targets: {
    readonly load_ms: number;
    readonly first_answer_ms: number;
  };
  readonly meets: { readonly load: boolean; readonly first_answer: boolean };
}

/** The generated schema, as superuser statements in `pgrest_scale`. */
export function scaleSchemaSql(authenticator: string): string[] {
  const t = (expr: string) => `format('t%s', lpad((${expr})::text, 4, '0'))`;
  return [
    `do $$ begin
       if not exists (select from pg_roles where rolname = '${ROLE}') then
         create role ${ROLE} nologin;
       end if;
     end $$`,
    `grant ${ROLE} to ${authenticator}`,
    `create schema ${SCHEMA}`,
    `create schema ${TINY_SCHEMA}`,
    `create table ${TINY_SCHEMA}.t0001(id int primary key, name text)`,
    `insert into ${TINY_SCHEMA}.t0001 values (1, 'one')`,
    `do $$ begin
       for i in 1..${SCALE_TABLES} loop
         execute format(
           'create table ${SCHEMA}.%I (id int primary key, name text not null,
              price numeric, created_at timestamptz default now(),
              ref_a int, ref_b int, ref_c int)', ${t("i")});
       end loop;
     end $$`,
    `insert into ${SCHEMA}.t0001(id, name) values (1, 'one')`,
    `do $$ declare off int[] := array[1, 7, 31]; begin
       for i in 1..${SCALE_TABLES} loop
         for k in 1..${FKS_PER_TABLE} loop
           execute format(
             'alter table ${SCHEMA}.%I add foreign key (%I) references ${SCHEMA}.%I(id)',
             ${t("i")}, (array['ref_a', 'ref_b', 'ref_c'])[k],
             ${t(`(i - 1 + off[k]) % ${SCALE_TABLES} + 1`)});
         end loop;
       end loop;
     end $$`,
    `do $$ begin
       for i in 1..${SCALE_FUNCTIONS / 2} loop
         execute format(
           'create function ${SCHEMA}.%I(a int, b int) returns int
              language sql immutable as %L',
           format('f%s', lpad(i::text, 4, '0')), 'select a + b + ' || i);
         execute format(
           'create function ${SCHEMA}.%I(p_id int) returns setof ${SCHEMA}.%I
              language sql stable as %L',
           format('g%s', lpad(i::text, 4, '0')),
           ${t(`(i - 1) % ${SCALE_TABLES} + 1`)},
           format('select * from ${SCHEMA}.%I where id = p_id',
             ${t(`(i - 1) % ${SCALE_TABLES} + 1`)}));
       end loop;
     end $$`,
    `grant usage on schema ${SCHEMA}, ${TINY_SCHEMA} to ${ROLE}`,
    `grant select on all tables in schema ${SCHEMA} to ${ROLE}`,
    `grant select on all tables in schema ${TINY_SCHEMA} to ${ROLE}`,
    `grant execute on all functions in schema ${SCHEMA} to ${ROLE}`,
    `vacuum analyze`,
  ];
}

/** Hooks of bench/run.ts. */
export interface ScaleContext {
  readonly log: (message: string) => void;
  /** Cleanups run on abort (in reverse order). */
  readonly cleanups: (() => Promise<void>)[];
  /** Measured repetitions (default 5). */
  readonly runs?: number;
}

function withDatabase(uri: string, database: string): string {
  const u = new URL(uri);
  u.pathname = `/${database}`;
  return u.toString();
}

/** The child environment: ours without PGRST_* and BENCH_* variables. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("PGRST_") && !k.startsWith("BENCH_")) env[k] = v;
  }
  return { ...env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...extra };
}

/**
 * One pgrest start: ms from spawn to the first 200 of `path`, and the
 * server's own cache load time from its admin `/metrics`.
 */
async function startOnce(
  uri: string,
  schema: string,
  path: string,
  ctx: ScaleContext,
): Promise<{ firstAnswerMs: number; serverLoadMs: number }> {
  const port = freePort();
  const adminPort = freePort();
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    cwd: ROOT,
    env: childEnv({
      PGRST_DB_URI: uri,
      PGRST_DB_SCHEMAS: schema,
      PGRST_DB_ANON_ROLE: ROLE,
      PGRST_SERVER_HOST: "127.0.0.1",
      PGRST_SERVER_PORT: String(port),
      PGRST_ADMIN_SERVER_PORT: String(adminPort),
      PGRST_DB_POOL: "10",
      PGRST_LOG_LEVEL: "crit",
    }),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const kill = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* exited */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 5_000);
    await child.status;
    clearTimeout(timer);
  };
  ctx.cleanups.push(kill);
  let exited = false;
  void child.status.then(() => (exited = true));
  try {
    const deadline = t0 + 60_000;
    let firstAnswerMs: number | null = null;
    while (firstAnswerMs === null) {
      if (exited) throw new Error(`pgrest exited:\n${await stderr}`);
      if (performance.now() > deadline) {
        throw new Error("pgrest gave no 200 within 60 s");
      }
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        await res.body?.cancel();
        if (res.status === 200) firstAnswerMs = performance.now() - t0;
      } catch { /* not listening yet */ }
      if (firstAnswerMs === null) {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`))
      .text();
    const m = /^pgrst_schema_cache_query_time_seconds ([\d.e+-]+)$/m.exec(
      metrics,
    );
    return {
      firstAnswerMs,
      serverLoadMs: m === null ? NaN : Number(m[1]) * 1000,
    };
  } finally {
    await kill();
    ctx.cleanups.splice(ctx.cleanups.indexOf(kill), 1);
    await stderr.catch(() => "");
  }
}

/** loadSchemaCache in process: as pgrest runs it, per query, JS alone. */
async function inProcess(uri: string, runs: number): Promise<{
  loadMs: number[];
  jsMs: number[];
  queryMs: Map<string, number[]>;
  queryRows: Record<string, number>;
}> {
  const pool = postgres(uri, { max: 10, onnotice: () => {} });
  const loadMs: number[] = [];
  const jsMs: number[] = [];
  const queryMs = new Map<string, number[]>();
  const queryRows: Record<string, number> = {};
  try {
    const [vrow] = await pool<{ v: number }[]>`
      select current_setting('server_version_num')::int as v
    `;
    const pgVersion = vrow!.v;
    const live: CatalogQuery = (text, params) =>
      pool.unsafe(text, params as postgres.ParameterOrJSON<never>[]) as Promise<
        Record<string, unknown>[]
      >;
    // what each query is asked, for the sequential and JS-only runs
    const asked: [string, readonly unknown[]][] = [];
    const recording: CatalogQuery = (text, params) => {
      asked.push([text, params]);
      return live(text, params);
    };
    await loadSchemaCache(recording, [SCHEMA], pgVersion); // warm-up
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await loadSchemaCache(live, [SCHEMA], pgVersion);
      loadMs.push(performance.now() - t);
    }
    const rowsByText = new Map<string, readonly Record<string, unknown>[]>();
    for (let i = 0; i < runs; i++) {
      for (const [text, params] of asked) {
        const t = performance.now();
        const rows = await live(text, params);
        const name = CATALOG_NAMES.get(text) ?? "other";
        const list = queryMs.get(name) ?? [];
        list.push(performance.now() - t);
        queryMs.set(name, list);
        queryRows[name] = rows.length;
        rowsByText.set(text, rows);
      }
    }
    const cached: CatalogQuery = (text) =>
      Promise.resolve(rowsByText.get(text) ?? []);
    await loadSchemaCache(cached, [SCHEMA], pgVersion); // warm-up
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await loadSchemaCache(cached, [SCHEMA], pgVersion);
      jsMs.push(performance.now() - t);
    }
  } finally {
    await pool.end({ timeout: 5 });
  }
  return { loadMs, jsMs, queryMs, queryRows };
}

/** Generates the schema and measures (see the module comment). */
export async function measureSchemaScale(
  cluster: TestCluster,
  ctx: ScaleContext,
): Promise<SchemaScaleReport> {
  const runs = ctx.runs ?? 5;
  const superPg = postgres(withDatabase(cluster.superUri, "postgres"), {
    max: 1,
    onnotice: () => {},
  });
  try {
    await superPg.unsafe(`drop database if exists ${DATABASE}`);
    await superPg.unsafe(`create database ${DATABASE}`);
  } finally {
    await superPg.end({ timeout: 5 });
  }
  const superUri = withDatabase(cluster.superUri, DATABASE);
  const uri = withDatabase(cluster.uri, DATABASE);
  const g0 = performance.now();
  const admin = postgres(superUri, { max: 1, onnotice: () => {} });
  let version: string;
  let counts: { tables: number; fks: number; functions: number };
  try {
    for (const st of scaleSchemaSql(AUTHENTICATOR_ROLE)) {
      await admin.unsafe(st);
    }
    const [row] = await admin.unsafe<
      { v: string; tables: number; fks: number; functions: number }[]
    >(
      `select version() as v,
        (select count(*)::int from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = '${SCHEMA}' and c.relkind = 'r') as tables,
        (select count(*)::int from pg_constraint k join pg_namespace n on n.oid = k.connamespace
          where n.nspname = '${SCHEMA}' and k.contype = 'f') as fks,
        (select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname = '${SCHEMA}') as functions`,
    );
    version = row!.v.replace(/ on .*/, "");
    counts = { tables: row!.tables, fks: row!.fks, functions: row!.functions };
  } finally {
    await admin.end({ timeout: 5 });
  }
  const generateMs = performance.now() - g0;
  ctx.log(
    `schema scale: ${counts.tables} tables, ${counts.fks} foreign keys, ${counts.functions} functions generated in ${
      (generateMs / 1000).toFixed(1)
    } s`,
  );

  // ---- in process
  const { loadMs, jsMs, queryMs, queryRows } = await inProcess(uri, runs);
  ctx.log(
    `schema scale: loadSchemaCache ${
      spread(loadMs).median.toFixed(0)
    } ms in process (JS ${spread(jsMs).median.toFixed(0)} ms)`,
  );

  // ---- pgrest processes
  const first: number[] = [];
  const server: number[] = [];
  const baseFirst: number[] = [];
  const baseServer: number[] = [];
  await startOnce(uri, SCHEMA, "/t0001?limit=1", ctx); // warm-up
  await startOnce(uri, TINY_SCHEMA, "/t0001?limit=1", ctx);
  for (let i = 0; i < runs; i++) {
    const big = await startOnce(uri, SCHEMA, "/t0001?limit=1", ctx);
    first.push(big.firstAnswerMs);
    server.push(big.serverLoadMs);
    const tiny = await startOnce(uri, TINY_SCHEMA, "/t0001?limit=1", ctx);
    baseFirst.push(tiny.firstAnswerMs);
    baseServer.push(tiny.serverLoadMs);
    ctx.log(
      `schema scale run ${i + 1}/${runs}: first answer ${
        big.firstAnswerMs.toFixed(0)
      } ms, cache load ${big.serverLoadMs.toFixed(0)} ms; tiny schema ${
        tiny.firstAnswerMs.toFixed(0)
      } ms, ${tiny.serverLoadMs.toFixed(0)} ms`,
    );
  }
  // ---- the same schema with views over half the tables
  const viewAdmin = postgres(superUri, { max: 1, onnotice: () => {} });
  try {
    await viewAdmin.unsafe(`do $$ begin
       for i in 1..${SCALE_VIEWS} loop
         execute format('create view ${SCHEMA}.%I as select * from ${SCHEMA}.%I',
           format('v%s', lpad(i::text, 4, '0')), format('t%s', lpad(i::text, 4, '0')));
       end loop;
     end $$`);
    await viewAdmin.unsafe(
      `grant select on all tables in schema ${SCHEMA} to ${ROLE}`,
    );
  } finally {
    await viewAdmin.end({ timeout: 5 });
  }
  const withViews = await inProcess(uri, runs);
  ctx.log(
    `schema scale with ${SCALE_VIEWS} views: loadSchemaCache ${
      spread(withViews.loadMs).median.toFixed(0)
    } ms in process (JS ${spread(withViews.jsMs).median.toFixed(0)} ms)`,
  );
  const serverLoad = spread(server);
  const firstAnswer = spread(first);
  return {
    postgres: version,
    tables: counts.tables,
    foreign_keys: counts.fks,
    functions: counts.functions,
    runs,
    generate_ms: Math.round(generateMs),
    load_ms: spread(loadMs),
    query_ms: Object.fromEntries(
      [...queryMs].map(([k, v]) => [k, spread(v)]),
    ),
    query_rows: queryRows,
    js_ms: spread(jsMs),
    server_load_ms: serverLoad,
    first_answer_ms: firstAnswer,
    baseline_first_answer_ms: spread(baseFirst),
    baseline_server_load_ms: spread(baseServer),
    views: SCALE_VIEWS,
    with_views_load_ms: spread(withViews.loadMs),
    with_views_js_ms: spread(withViews.jsMs),
    targets: {
      load_ms: TARGET_LOAD_MS,
      first_answer_ms: TARGET_FIRST_ANSWER_MS,
    },
    meets: {
      load: serverLoad.median < TARGET_LOAD_MS,
      first_answer: firstAnswer.median < TARGET_FIRST_ANSWER_MS,
    },
  };
}

const ms = (s: Spread) =>
  s.min === s.max
    ? s.median.toFixed(0)
    : `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;

/** The report as a Markdown section. */
export function schemaScaleMarkdown(r: SchemaScaleReport): string {
  const lines = [
    `## Schema scale: ${r.tables} tables, ${r.foreign_keys} foreign keys, ${r.functions} functions`,
    "",
    `Generated in ${
      (r.generate_ms / 1000).toFixed(1)
    } s; ${r.postgres}. Median (min–max) of ${r.runs} runs, ms.`,
    "",
    "| measurement | ms | target |",
    "| --- | ---: | --- |",
    `| schema cache load, pgrest process (pgrst_schema_cache_query_time_seconds) | ${
      ms(r.server_load_ms)
    } | < ${r.targets.load_ms}: ${r.meets.load ? "met" : "**missed**"} |`,
    `| spawn of \`deno run -A main.ts\` to first 200 | ${
      ms(r.first_answer_ms)
    } | < ${r.targets.first_answer_ms}: ${
      r.meets.first_answer ? "met" : "**missed**"
    } |`,
    `| loadSchemaCache in process (pool of 10) | ${ms(r.load_ms)} | |`,
    `| … its JavaScript alone (rows fetched before) | ${ms(r.js_ms)} | |`,
    ...Object.entries(r.query_ms).map(([name, s]) =>
      `| … catalog query \`${name}\` alone (${
        r.query_rows[name] ?? 0
      } rows) | ${ms(s)} | |`
    ),
    `| baseline: first 200 with the one-table \`tiny\` schema | ${
      ms(r.baseline_first_answer_ms)
    } | |`,
    `| baseline: its schema cache load | ${ms(r.baseline_server_load_ms)} | |`,
    `| loadSchemaCache in process after adding ${r.views} views (\`select *\` of a table each) | ${
      ms(r.with_views_load_ms)
    } | |`,
    `| … its JavaScript alone | ${ms(r.with_views_js_ms)} | |`,
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string", default: "5" } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  }
  const cleanups: (() => Promise<void>)[] = [];
  const log = (m: string) =>
    Deno.stderr.writeSync(new TextEncoder().encode(`schema_scale: ${m}\n`));
  const cluster = await startTestCluster({ fresh: true });
  let code = 0;
  try {
    const report = await measureSchemaScale(cluster, { log, cleanups, runs });
    Deno.stdout.writeSync(
      new TextEncoder().encode(schemaScaleMarkdown(report) + "\n"),
    );
  } catch (e) {
    log(`failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    code = 1;
  } finally {
    for (const fn of [...cleanups].reverse()) await fn().catch(() => {});
    await cluster.stop();
  }
  Deno.exit(code);
}
