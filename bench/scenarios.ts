/**
 * Owns the benchmark's scenarios and dataset: {@linkcode SCENARIOS},
 * {@linkcode DATASET_SQL} and {@linkcode expandPath}.
 *
 * A scenario is one request shape sent to every server. Its `path` is a
 * template in which `{int:LO:HI}` stands for a pseudo-random integer in
 * LO..HI, drawn per request; the wrk script (bench/wrk.lua) and the Node
 * client (bench/load.mjs) expand it the same way. To add a scenario, add an
 * entry here and, if the ceiling server should take part, a route with the
 * same `name` in bench/ceiling_server.ts (`CEILING_ROUTES`).
 *
 * @module
 */

/** The NOLOGIN role the servers read the dataset as. */
export const BENCH_ROLE = "bench_anon";
/** The schema pgrest exposes (`PGRST_DB_SCHEMAS`). */
export const BENCH_SCHEMA = "bench";
/** Rows in `bench.items`. */
export const ITEM_COUNT = 100_000;

/** One request shape measured on every server. */
export interface Scenario {
  /** Identifier, also the ceiling server's route name. */
  readonly name: string;
  /** One line for the report. */
  readonly description: string;
  /** Path and query template; `{int:LO:HI}` is drawn per request. */
  readonly path: string;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "items_by_id",
    description: `GET /items?id=eq.N, N pseudo-random in 1..${ITEM_COUNT}`,
    path: `/items?id=eq.{int:1:${ITEM_COUNT}}`,
  },
];

/**
 * Creates the dataset; run as the superuser, one statement at a time
 * (`vacuum` cannot run in a transaction). Values are deterministic.
 */
export function datasetSql(authenticator: string): string[] {
  return [
    `drop schema if exists ${BENCH_SCHEMA} cascade`,
    `do $$ begin
       if not exists (select from pg_roles where rolname = '${BENCH_ROLE}') then
         create role ${BENCH_ROLE} nologin;
       end if;
     end $$`,
    `grant ${BENCH_ROLE} to ${authenticator}`,
    `create schema ${BENCH_SCHEMA}`,
    `create table ${BENCH_SCHEMA}.items(
       id int primary key,
       name text,
       price numeric,
       created_at timestamptz
     )`,
    `insert into ${BENCH_SCHEMA}.items
       select g,
              'item ' || g,
              ((g * 7919) % 100000) / 100.0,
              timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
         from generate_series(1, ${ITEM_COUNT}) g`,
    `grant usage on schema ${BENCH_SCHEMA} to ${BENCH_ROLE}`,
    `grant select on ${BENCH_SCHEMA}.items to ${BENCH_ROLE}`,
    `vacuum analyze ${BENCH_SCHEMA}.items`,
  ];
}

/** Expands a path template with `random()` (default Math.random). */
export function expandPath(
  template: string,
  random: () => number = Math.random,
): string {
  return template.replace(
    /\{int:(\d+):(\d+)\}/g,
    (_, lo: string, hi: string) => {
      const l = Number(lo);
      const h = Number(hi);
      return String(l + Math.floor(random() * (h - l + 1)));
    },
  );
}
