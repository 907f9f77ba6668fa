/**
 * Owns what the OpenAPI document may show: the catalog query that runs in
 * the request's role-scoped transaction (the schema's comment and, with
 * `openapi-mode = follow-privileges`, the tables the role has any privilege
 * on and the functions it may execute), reading its row, and picking the
 * cached tables and functions of the schema that it allows.
 *
 * Pure.
 *
 * @module
 */

import { param, type Sql, sql } from "../query/sql.ts";
import type { Routine, SchemaCache, Table } from "../schema_cache/types.ts";

/** The row of the access query, read. */
export interface Access {
  /** The schema's comment. */
  readonly description: string | null;
  /** Names of visible tables and views; null: all of them. */
  readonly tables: ReadonlySet<string> | null;
  /** OIDs of executable functions; null: all of them. */
  readonly routines: ReadonlySet<number> | null;
}

/**
 * The access query for `schema` (a bind parameter). With `followPrivileges`
 * it asks PostgreSQL, as the current role, which relations it has any
 * privilege on (as PostgREST's `accessibleTables`) and which functions it
 * may execute (`accessibleFuncs`).
 */
export function accessQuery(schema: string, followPrivileges: boolean): Sql {
  const s = param(schema);
  const description = sql`(
    select d.description
    from pg_namespace n
    join pg_description d on d.objoid = n.oid
      and d.classoid = 'pg_namespace'::regclass and d.objsubid = 0
    where n.nspname = ${s}
  ) as description`;
  if (!followPrivileges) {
    return sql`select ${description}, null::text as tables, null::text as routines`;
  }
  return sql`select ${description},
  coalesce((
    select json_agg(c.relname order by c.relname)
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${s}
      and c.relkind in ('v', 'r', 'm', 'f', 'p')
      and not c.relispartition
      and (
        pg_has_role(c.relowner, 'USAGE')
        or has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
        or has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
      )
  ), '[]')::text as tables,
  coalesce((
    select json_agg(p.oid::int8 order by p.oid)
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = ${s}
      and has_function_privilege(p.oid, 'execute')
  ), '[]')::text as routines`;
}

function jsonArray(v: unknown): readonly unknown[] | null {
  if (v === null || v === undefined) return null;
  const parsed: unknown = typeof v === "string" ? JSON.parse(v) : v;
  return Array.isArray(parsed) ? parsed : null;
}

/** Reads the access query's row (`undefined`: no row, nothing visible). */
export function readAccess(
  row: Readonly<Record<string, unknown>> | undefined,
): Access {
  if (row === undefined) {
    return { description: null, tables: new Set(), routines: new Set() };
  }
  const description = row["description"];
  const tables = jsonArray(row["tables"]);
  const routines = jsonArray(row["routines"]);
  return {
    description: typeof description === "string" ? description : null,
    tables: tables === null ? null : new Set(tables.map((t) => String(t))),
    routines: routines === null
      ? null
      : new Set(routines.map((o) => Number(o))),
  };
}

const UNNAMED_OK = new Set(["bytea", "json", "jsonb", "text", "xml"]);

/**
 * Whether `/rpc` can call the function, as PostgREST's catalog query
 * decides: not a trigger function, and no unnamed argument unless it is
 * the single one, of a raw body type.
 */
export function isCallable(r: Routine): boolean {
  if (r.returnTypeSchema === "pg_catalog" && r.returnTypeName === "trigger") {
    return false;
  }
  if (r.params.length === 0 || r.params.some((p) => p.name !== "")) {
    return true;
  }
  const only = r.params.length === 1 ? r.params[0] : undefined;
  return only !== undefined && UNNAMED_OK.has(only.type);
}

function byName<T extends { readonly name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The tables and functions of `schema` that `access` lets the document
 * show, sorted by name; of overloaded functions the one with the most
 * arguments (PostgREST keeps the last of its sorted overloads).
 */
export function visibleObjects(
  cache: SchemaCache,
  schema: string,
  access: Access,
): { tables: readonly Table[]; routines: readonly Routine[] } {
  const tables = [...cache.tables.values()].filter((t) =>
    t.schema === schema &&
    (access.tables === null || access.tables.has(t.name))
  ).sort(byName);
  const routines: Routine[] = [];
  for (const overloads of cache.routines.values()) {
    let pick: Routine | null = null;
    for (const r of overloads) {
      if (r.schema !== schema || !isCallable(r)) continue;
      if (
        access.routines !== null &&
        (r.oid === undefined || !access.routines.has(r.oid))
      ) continue;
      if (pick === null || r.params.length >= pick.params.length) pick = r;
    }
    if (pick !== null) routines.push(pick);
  }
  return { tables, routines: routines.sort(byName) };
}
