/**
 * Owns rendering a write plan into its one main statement: the INSERT (with
 * ON CONFLICT), UPDATE or DELETE in a CTE that returns only the columns the
 * response needs, the representation read over those rows (with embeds),
 * the affected and inserted counts, and the primary key for `Location`.
 *
 * The body is bound once, as json (as PostgREST binds it: PostgreSQL only
 * checks its syntax where jsonb would build a binary copy, which a request
 * refused for lack of privileges also paid for), and expanded with
 * `json_array_elements` and `json_populate_record`. A column whose domain
 * has a json parser (data representations: a `json → domain` cast) reads
 * its key through that function instead; on such tables the record is
 * populated from only the other written keys, so no other key is parsed.
 *
 * Pure.
 *
 * @module
 */

import type { MutatePlan } from "../plan/mutate.ts";
import type { Column, Table } from "../schema_cache/types.ts";
import { arrayLiteral } from "./sql.ts";
import { bodySql, logicSql, type Rel, sourceSql, tableRef } from "./read.ts";
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

/** Whether some column of the table has a json parser. */
function hasRepresentations(t: Table): boolean {
  return t.columns.some((c) => c.repr?.fromJson !== undefined);
}

/**
 * The object `json_populate_record` reads: the element itself, or, when
 * the table has columns with a json parser, only the keys written without
 * one (the others are parsed by their functions, and keys not written,
 * e.g. outside `?columns`, must not be parsed at all).
 */
function recordSource(plan: MutatePlan, element: Sql): Sql {
  if (!hasRepresentations(plan.table)) return element;
  const keys = plan.columns.filter((c) => c.repr?.fromJson === undefined)
    .map((c) => c.name);
  const e = ident("pgrst_e");
  return sql`(SELECT coalesce(pg_catalog.json_object_agg(${e}.key, ${e}.value), '{}') FROM pg_catalog.json_each(${element}) AS ${e} WHERE ${e}.key = ANY(${
    param(arrayLiteral(keys))
  }::text[]))`;
}

const PARSED = ident("pgrst_rj");

/** Fragments without parameters, made once. */
const TRUE = keyword("true");
const ONE = keyword("1");
const EMPTY_TEXT = keyword("''");
const NULL_TEXT = keyword("null::text");
const AND = keyword(" AND ");
const SELECT_ONE_FROM_MUT = sql`SELECT 1 FROM ${MUT}`;
const J = sql`${ident("pgrst_j")}.${ident("j")}`;

/** Whether the JSON object has the key (its value may be JSON null). */
function hasKey(object: Sql, key: string): Sql {
  return sql`(${object} -> ${param(key)}) IS NOT NULL`;
}

/**
 * A written column's value: its json parser over the key's JSON value, or
 * the populated record's field.
 */
function columnValue(c: Column, rec: Sql): Sql {
  const fn = c.repr?.fromJson;
  if (fn === undefined) return sql`${rec}.${ident(c.name)}`;
  return sql`${qi(fn.schema, fn.name)}(${PARSED}.${ident(c.name)})`;
}

/**
 * `, json_to_record(element) AS pgrst_rj("col" json, …)`: the JSON values
 * of the columns with a json parser, when any is written. A function scan
 * (not `element -> 'col'`), so that the planner cannot fold the parser
 * over a constant and raise its error when no row is written.
 */
function parsedSource(plan: MutatePlan, element: Sql): Sql {
  const cols = plan.columns.filter((c) => c.repr?.fromJson !== undefined);
  if (cols.length === 0) return EMPTY;
  return sql`, json_to_record(${element}) AS ${PARSED}(${
    join(cols.map((c) => sql`${ident(c.name)} json`))
  })`;
}

function insertSql(plan: MutatePlan, target: Sql, returning: Sql): Sql {
  const payload = plan.payload;
  const json = param(payload?.json ?? "[]");
  const cols = plan.columns;
  if (cols.length === 0) {
    // rows without keys: every column takes its default
    return sql`INSERT INTO ${target} SELECT FROM json_array_elements(${json}::json) RETURNING ${returning}`;
  }
  const rec = ident("pgrst_rec");
  const j = J;
  const values = cols.map((c) => {
    const v = columnValue(c, rec);
    if (!plan.missingDefault) return v;
    const def = c.defaultValue === null ? sql`NULL` : keyword(c.defaultValue);
    return sql`CASE WHEN ${hasKey(j, c.name)} THEN ${v} ELSE ${def} END`;
  });
  let q = sql`INSERT INTO ${target} (${
    join(cols.map((c) => ident(c.name)))
  }) SELECT ${join(values)} FROM json_array_elements(${json}::json) AS ${
    ident("pgrst_j")
  }(${ident("j")}), json_populate_record(null::${target}, ${
    recordSource(plan, j)
  }) AS ${rec}${parsedSource(plan, j)}`;
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
  return sql` WHERE ${join(plan.where.map((w) => logicSql(rel, w)), AND)}`;
}

function updateSql(plan: MutatePlan, target: Sql, returning: Sql): Sql {
  const rec = ident("pgrst_rec");
  const body = sql`(${param(plan.payload?.json ?? "[]")}::json)->0`;
  // with data representations the object is read in several places: bind
  // the body once, in a subquery the other FROM items refer to
  const shared = hasRepresentations(plan.table);
  const u = ident("pgrst_u");
  const first = shared ? sql`${u}.${ident("j")}` : body;
  const sets = plan.columns.map((c) => {
    const v = columnValue(c, rec);
    if (!plan.missingDefault) return sql`${ident(c.name)} = ${v}`;
    const def = c.defaultValue === null ? sql`NULL` : keyword(c.defaultValue);
    return sql`${ident(c.name)} = CASE WHEN ${
      hasKey(first, c.name)
    } THEN ${v} ELSE ${def} END`;
  });
  return sql`UPDATE ${target} SET ${join(sets)} FROM ${
    shared ? sql`(SELECT ${body} AS ${ident("j")}) AS ${u}, ` : EMPTY
  }json_populate_record(null::${target}, ${
    recordSource(plan, first)
  }) AS ${rec}${parsedSource(plan, first)}${
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
  const target = tableRef(t);
  const cols = plan.returning.map((c) => sql`${target}.${ident(c)}`);
  // in an upsert, xmax = 0 tells an inserted row from an updated one; views
  // and partitioned tables have no xmax here, so a row is inserted when
  // no row had its conflict key before (a subquery of RETURNING sees the
  // statement's snapshot, without its own changes)
  const conflict = plan.onConflict?.columns ?? [];
  const prev = ident("pgrst_prev");
  const inserted = plan.onConflict === null
    ? TRUE
    : !t.isView && !t.isPartitioned
    ? sql`${target}.xmax = 0`
    : conflict.length === 0
    ? TRUE
    : sql`NOT EXISTS (SELECT 1 FROM ${target} AS ${prev} WHERE (${
      join(conflict.map((c) => sql`${prev}.${ident(c)}`))
    }) = (${join(conflict.map((c) => sql`${target}.${ident(c)}`))}))`;
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
    ? ONE
    : join(plan.returning.map((c) => ident(c)));
  const rows = {
    kind: "rows" as const,
    from: sql`(SELECT ${rowCols} FROM ${MUT}) AS ${ident(alias)}`,
    alias,
  };
  const representation = plan.returnMode === "representation";
  const source = representation
    ? sourceSql(plan.read, rows)
    : SELECT_ONE_FROM_MUT;
  const body = representation
    ? bodySql({ media: plan.media, call: null })
    : EMPTY_TEXT;
  const pk = t.primaryKey;
  const location = plan.returnMode === "headers-only" && pk.length > 0 &&
      plan.op === "insert"
    ? sql`(SELECT row_to_json(pgrst_loc)::text FROM (SELECT ${
      join(pk.map((c) => ident(c)))
    } FROM ${MUT} LIMIT 1) pgrst_loc)`
    : NULL_TEXT;
  return sql`WITH ${MUT} AS (${mutation}), pgrst_source AS (${source}) SELECT (SELECT pg_catalog.count(*) FROM ${MUT}) AS total_result_set, (SELECT pg_catalog.count(*) FILTER (WHERE pgrst_inserted) FROM ${MUT}) AS inserted, pg_catalog.count(_postgrest_t) AS page_total, ${body} AS body, ${location} AS location, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM (SELECT * FROM pgrst_source) _postgrest_t`;
}
