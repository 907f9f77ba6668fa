/**
 * Owns rendering a write plan into its one main statement: the INSERT (with
 * ON CONFLICT), UPDATE or DELETE in a CTE that returns only the columns the
 * response needs, the representation read over those rows (with embeds),
 * the affected and inserted counts, and the primary key for `Location`.
 *
 * The body is bound once, as jsonb, and expanded with
 * `jsonb_array_elements` and `jsonb_populate_record`.
 *
 * Pure.
 *
 * @module
 */

import type { MutatePlan } from "../plan/mutate.ts";
import { bodySql, logicSql, type Rel, sourceSql } from "./read.ts";
import {
  EMPTY,
  ident,
  join,
  keyword,
  param,
  qi,
  type Sql,
  sql,
} from "./sql.ts";

const MUT = ident("pgrst_mut");

function insertSql(plan: MutatePlan, target: Sql, returning: Sql): Sql {
  const payload = plan.payload;
  const json = param(payload?.json ?? "[]");
  const cols = plan.columns;
  if (cols.length === 0) {
    // rows without keys: every column takes its default
    return sql`INSERT INTO ${target} SELECT FROM jsonb_array_elements(${json}::jsonb) RETURNING ${returning}`;
  }
  const rec = ident("pgrst_rec");
  const j = sql`${ident("pgrst_j")}.${ident("j")}`;
  const values = cols.map((c) => {
    const v = sql`${rec}.${ident(c.name)}`;
    if (!plan.missingDefault) return v;
    const def = c.defaultValue === null ? sql`NULL` : keyword(c.defaultValue);
    return sql`CASE WHEN ${j} ? ${param(c.name)} THEN ${v} ELSE ${def} END`;
  });
  let q = sql`INSERT INTO ${target} (${
    join(cols.map((c) => ident(c.name)))
  }) SELECT ${join(values)} FROM jsonb_array_elements(${json}::jsonb) AS ${
    ident("pgrst_j")
  }(${ident("j")}), jsonb_populate_record(null::${target}, ${j}) AS ${rec}`;
  const oc = plan.onConflict;
  if (oc !== null) {
    const conflict = join(oc.columns.map((c) => ident(c)));
    if (oc.action === "ignore") {
      q = sql`${q} ON CONFLICT (${conflict}) DO NOTHING`;
    } else {
      const sets = cols.map((c) =>
        sql`${ident(c.name)} = EXCLUDED.${ident(c.name)}`
      );
      q = sets.length === 0
        ? sql`${q} ON CONFLICT (${conflict}) DO NOTHING`
        : sql`${q} ON CONFLICT (${conflict}) DO UPDATE SET ${join(sets)}`;
    }
  }
  return sql`${q} RETURNING ${returning}`;
}

function whereSql(plan: MutatePlan, target: Sql): Sql {
  if (plan.where.length === 0) return EMPTY;
  const rel: Rel = { ref: target, types: plan.table.columnsByName };
  return sql` WHERE ${
    join(plan.where.map((w) => logicSql(rel, w)), keyword(" AND "))
  }`;
}

function updateSql(plan: MutatePlan, target: Sql, returning: Sql): Sql {
  const rec = ident("pgrst_rec");
  const first = sql`(${param(plan.payload?.json ?? "[]")}::jsonb)->0`;
  const sets = plan.columns.map((c) => {
    const v = sql`${rec}.${ident(c.name)}`;
    if (!plan.missingDefault) return sql`${ident(c.name)} = ${v}`;
    const def = c.defaultValue === null ? sql`NULL` : keyword(c.defaultValue);
    return sql`${ident(c.name)} = CASE WHEN ${first} ? ${
      param(c.name)
    } THEN ${v} ELSE ${def} END`;
  });
  return sql`UPDATE ${target} SET ${
    join(sets)
  } FROM jsonb_populate_record(null::${target}, ${first}) AS ${rec}${
    whereSql(plan, target)
  } RETURNING ${returning}`;
}

function deleteSql(plan: MutatePlan, target: Sql, returning: Sql): Sql {
  return sql`DELETE FROM ${target}${
    whereSql(plan, target)
  } RETURNING ${returning}`;
}

/** The main statement of a write. */
export function mutateStatement(plan: MutatePlan): Sql {
  const t = plan.table;
  const target = qi(t.schema, t.name);
  const cols = plan.returning.map((c) => sql`${target}.${ident(c)}`);
  // in an upsert, xmax = 0 tells an inserted row from an updated one
  // (not available on views and partitioned tables)
  const inserted = plan.onConflict === null || t.isView || t.isPartitioned
    ? sql`true`
    : sql`${target}.xmax = 0`;
  const returning = join([
    ...cols,
    sql`${inserted} AS ${ident("pgrst_inserted")}`,
  ]);
  const mutation = plan.op === "insert"
    ? insertSql(plan, target, returning)
    : plan.op === "update"
    ? updateSql(plan, target, returning)
    : deleteSql(plan, target, returning);
  const alias = t.name;
  const rowCols = plan.returning.length === 0
    ? sql`1`
    : join(plan.returning.map((c) => ident(c)));
  const rows = {
    kind: "rows" as const,
    from: sql`(SELECT ${rowCols} FROM ${MUT}) AS ${ident(alias)}`,
    alias,
  };
  const representation = plan.returnMode === "representation";
  const source = representation
    ? sourceSql(plan.read, rows)
    : sql`SELECT 1 FROM ${MUT}`;
  const body = representation
    ? bodySql({ media: plan.media, call: null })
    : sql`''`;
  const pk = t.primaryKey;
  const location = plan.returnMode === "headers-only" && pk.length > 0 &&
      plan.op === "insert"
    ? sql`(SELECT row_to_json(pgrst_loc)::text FROM (SELECT ${
      join(pk.map((c) => ident(c)))
    } FROM ${MUT} LIMIT 1) pgrst_loc)`
    : sql`null::text`;
  return sql`WITH ${MUT} AS (${mutation}), pgrst_source AS (${source}) SELECT (SELECT pg_catalog.count(*) FROM ${MUT}) AS total_result_set, (SELECT pg_catalog.count(*) FILTER (WHERE pgrst_inserted) FROM ${MUT}) AS inserted, pg_catalog.count(_postgrest_t) AS page_total, ${body} AS body, ${location} AS location, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM (SELECT * FROM pgrst_source) _postgrest_t`;
}
