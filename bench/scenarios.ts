/**
 * Owns the benchmark's scenarios and dataset: {@linkcode SCENARIOS},
 * {@linkcode datasetSql}, {@linkcode resetSql} and {@linkcode expandPath}.
 *
 * A scenario is one request shape sent to every server. Its `path` (and a
 * POST's `body`) is a template in which `{int:LO:HI}` stands for a
 * pseudo-random integer in LO..HI, drawn per request; the wrk script
 * (bench/wrk.lua) and the Node client (bench/load.mjs) expand it the same
 * way. To add a scenario, add an entry here and, if the ceiling server should
 * take part, a route with the same `name` in bench/ceiling_server.ts
 * (`CEILING_ROUTES`).
 *
 * Reads go to `bench.items` (100k rows: by key, 100 rows with filters and
 * an order, and a page of 25 with `Prefer: count=exact`), to `bench.parents` (1,000 rows)
 * with their one-to-many `bench.children` (10 each, through the foreign key
 * `parent_id`, indexed) and their many-to-many `bench.tags` (50 tags, 3 per
 * parent, through the junction table `bench.parent_tags`), and call the SQL
 * function `bench.add_them(a int, b int)`; none of these is ever written.
 * Writes go to `bench.writes`, whose `id` is an identity column; bench/run.ts
 * empties it
 * (`TRUNCATE … RESTART IDENTITY`, {@linkcode resetSql}) before every load
 * run of a write scenario, warm-ups included, so each server starts every
 * run on an empty table and the table holds at most one run's rows.
 * The PATCH scenario updates the price of one of the 1,000 rows of
 * `bench.patches` per request: the table never grows, and its reset puts
 * every price back to 0 and vacuums it (the cluster has no autovacuum), so
 * dead rows do not pile up from run to run.
 *
 * @module
 */

/** The NOLOGIN role the servers read the dataset as. */
export const BENCH_ROLE = "bench_anon";
/** The schema pgrest exposes (`PGRST_DB_SCHEMAS`). */
export const BENCH_SCHEMA = "bench";
/** Rows in `bench.items`. */
export const ITEM_COUNT = 100_000;
/** Rows in `bench.parents`. */
export const PARENT_COUNT = 1_000;
/** Rows in `bench.children` per parent. */
export const CHILDREN_PER_PARENT = 10;
/** Rows in `bench.tags`. */
export const TAG_COUNT = 50;
/** Rows in `bench.parent_tags` per parent. */
export const TAGS_PER_PARENT = 3;
/** The table the write scenarios insert into. */
export const WRITES_TABLE = `${BENCH_SCHEMA}.writes`;
/** Rows per request in the bulk write scenario. */
export const BULK_ROWS = 1_000;
/** The table the PATCH scenario updates (never grows). */
export const PATCHES_TABLE = `${BENCH_SCHEMA}.patches`;
/** Rows in {@linkcode PATCHES_TABLE}. */
export const PATCH_ROWS = 1_000;

/** One request shape measured on every server. */
export interface Scenario {
  /** Identifier, also the ceiling server's route name. */
  readonly name: string;
  /** One line for the report. */
  readonly description: string;
  /** Path and query template; `{int:LO:HI}` is drawn per request. */
  readonly path: string;
  /** HTTP method (default GET). */
  readonly method?: "GET" | "POST" | "PATCH";
  /** Request body template (`{int:LO:HI}` drawn per request), for POSTs. */
  readonly body?: string;
  /**
   * The status pgrest answers with, when not the default (200 for reads,
   * 201 for inserts, 204 for updates): 206 for a counted partial page.
   */
  readonly status?: number;
  /** Request headers (`Content-Type`, `Prefer`). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * For writes: the rows each request inserts or updates (the report adds
   * rows/s), the table {@linkcode resetSql} puts back before each load run,
   * and whether requests insert (the table grows by `rows` per request, 201)
   * or update (the table keeps its rows, 204).
   */
  readonly write?: {
    readonly rows: number;
    readonly table: string;
    readonly kind: "insert" | "update";
  };
}

const WRITE_HEADERS = {
  "Content-Type": "application/json",
  "Prefer": "return=minimal",
};

/** The bulk body: {@linkcode BULK_ROWS} deterministic rows, fixed. */
function bulkBody(): string {
  const rows: string[] = [];
  for (let i = 1; i <= BULK_ROWS; i++) {
    rows.push(
      JSON.stringify({ name: `item ${i}`, price: ((i * 7919) % 100000) / 100 }),
    );
  }
  return `[${rows.join(",")}]`;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "items_by_id",
    description: `GET /items?id=eq.N, N pseudo-random in 1..${ITEM_COUNT}`,
    path: `/items?id=eq.{int:1:${ITEM_COUNT}}`,
  },
  {
    name: "parents_children",
    description:
      `GET /parents?select=id,name,children(id,name)&limit=20&order=id: 20 parents, each with its ${CHILDREN_PER_PARENT} children (one-to-many embed)`,
    path: "/parents?select=id,name,children(id,name)&limit=20&order=id",
  },
  {
    name: "parents_tags",
    description:
      `GET /parents?select=id,name,tags(name)&limit=20&order=id: 20 parents, each with its ${TAGS_PER_PARENT} tags through bench.parent_tags (many-to-many embed)`,
    path: "/parents?select=id,name,tags(name)&limit=20&order=id",
  },
  {
    name: "items_filtered",
    description:
      "GET /items?select=id,name,price&id=gt.N&price=gte.10&order=id&limit=100, N pseudo-random in 0..99000: 100 rows, two filters, an order",
    path:
      "/items?select=id,name,price&id=gt.{int:0:99000}&price=gte.10&order=id&limit=100",
  },
  {
    name: "items_count",
    description:
      "GET /items?select=id,name&id=lt.N&order=id.desc&limit=25 with Prefer: count=exact, N pseudo-random in 1001..2000: 25 rows and the exact count of the 1,000–1,999 matching",
    path: "/items?select=id,name&id=lt.{int:1001:2000}&order=id.desc&limit=25",
    headers: { "Prefer": "count=exact" },
    status: 206,
  },
  {
    name: "rpc_add_them",
    description:
      'POST /rpc/add_them {"a":1,"b":2}: a scalar SQL function (immutable)',
    path: "/rpc/add_them",
    method: "POST",
    body: '{"a": 1, "b": 2}',
    headers: { "Content-Type": "application/json" },
  },
  {
    name: "insert_one",
    description:
      `POST /writes, one JSON object {"name","price"} (id from identity), Prefer: return=minimal`,
    path: "/writes",
    method: "POST",
    body: `{"name":"item {int:1:${ITEM_COUNT}}","price":{int:1:100000}}`,
    headers: WRITE_HEADERS,
    write: { rows: 1, table: WRITES_TABLE, kind: "insert" },
  },
  {
    name: "insert_bulk",
    description:
      `POST /writes, a JSON array of ${BULK_ROWS} objects {"name","price"} (fixed body), Prefer: return=minimal`,
    path: "/writes",
    method: "POST",
    body: bulkBody(),
    headers: WRITE_HEADERS,
    write: { rows: BULK_ROWS, table: WRITES_TABLE, kind: "insert" },
  },
  {
    name: "update_one",
    description:
      `PATCH /patches?id=eq.N {"price":P}, N pseudo-random in 1..${PATCH_ROWS} (primary key), Prefer: return=minimal; the table never grows`,
    path: `/patches?id=eq.{int:1:${PATCH_ROWS}}`,
    method: "PATCH",
    body: `{"price":{int:1:100000}}`,
    headers: WRITE_HEADERS,
    write: { rows: 1, table: PATCHES_TABLE, kind: "update" },
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
    `create table ${WRITES_TABLE}(
       id bigint generated by default as identity primary key,
       name text,
       price numeric
     )`,
    // fillfactor 50: updates stay on their page (HOT) between vacuums
    `create table ${PATCHES_TABLE}(
       id int primary key,
       name text not null,
       price numeric not null
     ) with (fillfactor = 50)`,
    `insert into ${PATCHES_TABLE}
       select g, 'patch ' || g, 0 from generate_series(1, ${PATCH_ROWS}) g`,
    `create table ${BENCH_SCHEMA}.parents(
       id int primary key,
       name text not null
     )`,
    `insert into ${BENCH_SCHEMA}.parents
       select g, 'parent ' || g from generate_series(1, ${PARENT_COUNT}) g`,
    // A parent's children are spread over the table, as if added over time.
    `create table ${BENCH_SCHEMA}.children(
       id int primary key,
       parent_id int not null references ${BENCH_SCHEMA}.parents(id),
       name text not null
     )`,
    `insert into ${BENCH_SCHEMA}.children
       select g, (g - 1) % ${PARENT_COUNT} + 1, 'child ' || g
         from generate_series(1, ${PARENT_COUNT * CHILDREN_PER_PARENT}) g`,
    `create index on ${BENCH_SCHEMA}.children(parent_id)`,
    `create table ${BENCH_SCHEMA}.tags(
       id int primary key,
       name text not null
     )`,
    `insert into ${BENCH_SCHEMA}.tags
       select g, 'tag ' || g from generate_series(1, ${TAG_COUNT}) g`,
    `create table ${BENCH_SCHEMA}.parent_tags(
       parent_id int references ${BENCH_SCHEMA}.parents(id),
       tag_id int references ${BENCH_SCHEMA}.tags(id),
       primary key (parent_id, tag_id)
     )`,
    // Tag k of parent p is (7p + 13k) mod 50 + 1: distinct for k < 3.
    `insert into ${BENCH_SCHEMA}.parent_tags
       select p, (7 * p + 13 * k) % ${TAG_COUNT} + 1
         from generate_series(1, ${PARENT_COUNT}) p,
              generate_series(0, ${TAGS_PER_PARENT - 1}) k`,
    `create index on ${BENCH_SCHEMA}.parent_tags(tag_id)`,
    `create function ${BENCH_SCHEMA}.add_them(a int, b int) returns int
       language sql immutable as $$ select a + b $$`,
    `grant usage on schema ${BENCH_SCHEMA} to ${BENCH_ROLE}`,
    `grant select on ${BENCH_SCHEMA}.items, ${BENCH_SCHEMA}.parents,
       ${BENCH_SCHEMA}.children, ${BENCH_SCHEMA}.tags,
       ${BENCH_SCHEMA}.parent_tags to ${BENCH_ROLE}`,
    `grant execute on function ${BENCH_SCHEMA}.add_them(int, int)
       to ${BENCH_ROLE}`,
    `grant insert on ${WRITES_TABLE} to ${BENCH_ROLE}`,
    `grant usage on sequence ${WRITES_TABLE}_id_seq to ${BENCH_ROLE}`,
    `grant select, update on ${PATCHES_TABLE} to ${BENCH_ROLE}`,
    `vacuum analyze ${BENCH_SCHEMA}.items`,
    `vacuum analyze ${PATCHES_TABLE}`,
    `vacuum analyze ${BENCH_SCHEMA}.parents`,
    `vacuum analyze ${BENCH_SCHEMA}.children`,
    `vacuum analyze ${BENCH_SCHEMA}.tags`,
    `vacuum analyze ${BENCH_SCHEMA}.parent_tags`,
  ];
}

/**
 * Puts a write scenario's table back in its initial state, as the superuser
 * between runs, one statement at a time: an insert scenario's table is
 * emptied, an update scenario's prices go back to 0 and the dead rows are
 * vacuumed away.
 */
export function resetSql(write: NonNullable<Scenario["write"]>): string[] {
  return write.kind === "insert"
    ? [`truncate ${write.table} restart identity`]
    : [
      `update ${write.table} set price = 0 where price <> 0`,
      `vacuum ${write.table}`,
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
