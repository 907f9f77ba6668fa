/**
 * Owns relationships through views: resolving each view column to the
 * base-table column it comes from (through chains of views), then copying
 * every foreign key onto the views that expose its columns, and giving views
 * the primary key and unique keys of their base tables when they expose them.
 *
 * Pure.
 *
 * @module
 */

import { type ForeignKey, qualifiedKey, type Table } from "./types.ts";
import type { ViewColumnSource } from "./view_columns.ts";

/** A relation known by OID, with its columns by attribute number. */
export interface RelationInfo {
  readonly schema: string;
  readonly name: string;
  readonly isView: boolean;
  readonly attnames: ReadonlyMap<number, string>;
}

/** A view's output columns and where each comes from. */
export interface ViewInfo {
  readonly oid: number;
  readonly sources: readonly ViewColumnSource[];
}

/** A base column: `schema\u0000table` and column name. */
interface BaseColumn {
  readonly rel: string;
  readonly column: string;
}

/**
 * Maps every view column (by view key and column name) to its base-table
 * column, following views over views (at most 16 levels).
 */
export function resolveViewColumns(
  views: readonly ViewInfo[],
  relations: ReadonlyMap<number, RelationInfo>,
): Map<string, Map<string, BaseColumn>> {
  const byOid = new Map(views.map((v) => [v.oid, v]));
  const out = new Map<string, Map<string, BaseColumn>>();
  function resolve(
    oid: number,
    attnum: number,
    depth: number,
  ): BaseColumn | null {
    const rel = relations.get(oid);
    if (rel === undefined || depth > 16) return null;
    const column = rel.attnames.get(attnum);
    if (column === undefined) return null;
    if (!rel.isView) return { rel: qualifiedKey(rel.schema, rel.name), column };
    const view = byOid.get(oid);
    const src = view?.sources.find((s) => s.name === column);
    if (src === undefined || src.relation === 0) return null;
    return resolve(src.relation, src.attnum, depth + 1);
  }
  for (const v of views) {
    const rel = relations.get(v.oid);
    if (rel === undefined) continue;
    const cols = new Map<string, BaseColumn>();
    for (const s of v.sources) {
      if (s.relation === 0 || s.name === "") continue;
      const base = resolve(s.relation, s.attnum, 0);
      if (base !== null && !cols.has(s.name)) cols.set(s.name, base);
    }
    out.set(qualifiedKey(rel.schema, rel.name), cols);
  }
  return out;
}

/** The view's column names for base columns `cols` of `baseRel`, if all exposed. */
function exposed(
  viewCols: ReadonlyMap<string, BaseColumn>,
  baseRel: string,
  cols: readonly string[],
): string[] | null {
  const names: string[] = [];
  for (const c of cols) {
    let found: string | null = null;
    for (const [name, base] of viewCols) {
      if (base.rel === baseRel && base.column === c) {
        found = name;
        break;
      }
    }
    if (found === null) return null;
    names.push(found);
  }
  return names;
}

/**
 * Adds, for every foreign key, copies whose owner and/or target is a view
 * of the cache exposing the key's columns; and keys for views.
 */
export function expandThroughViews(
  tables: ReadonlyMap<string, Table>,
  fks: readonly ForeignKey[],
  viewColumns: ReadonlyMap<string, ReadonlyMap<string, BaseColumn>>,
): { tables: Map<string, Table>; foreignKeys: ForeignKey[] } {
  const views = [...tables.values()].filter((t) => t.isView);
  const out: ForeignKey[] = [...fks];
  const seen = new Set(
    fks.map((f) =>
      `${f.constraint}\u0000${f.schema}.${f.table}\u0000${f.refSchema}.${f.refTable}`
    ),
  );
  for (const fk of fks) {
    const owner = qualifiedKey(fk.schema, fk.table);
    const target = qualifiedKey(fk.refSchema, fk.refTable);
    const owners: {
      schema: string;
      table: string;
      columns: readonly string[];
    }[] = [
      { schema: fk.schema, table: fk.table, columns: fk.columns },
    ];
    const targets: {
      schema: string;
      table: string;
      columns: readonly string[];
    }[] = [
      { schema: fk.refSchema, table: fk.refTable, columns: fk.refColumns },
    ];
    for (const v of views) {
      const cols = viewColumns.get(qualifiedKey(v.schema, v.name));
      if (cols === undefined) continue;
      const o = exposed(cols, owner, fk.columns);
      if (o !== null) {
        owners.push({ schema: v.schema, table: v.name, columns: o });
      }
      const t = exposed(cols, target, fk.refColumns);
      if (t !== null) {
        targets.push({ schema: v.schema, table: v.name, columns: t });
      }
    }
    for (const o of owners) {
      for (const t of targets) {
        const key =
          `${fk.constraint}\u0000${o.schema}.${o.table}\u0000${t.schema}.${t.table}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({
          constraint: fk.constraint,
          schema: o.schema,
          table: o.table,
          columns: o.columns,
          refSchema: t.schema,
          refTable: t.table,
          refColumns: t.columns,
        });
      }
    }
  }
  // views take the keys of their base tables when they expose them
  const result = new Map(tables);
  for (const v of views) {
    const key = qualifiedKey(v.schema, v.name);
    const cols = viewColumns.get(key);
    if (cols === undefined) continue;
    const bases = new Set([...cols.values()].map((b) => b.rel));
    let primaryKey: readonly string[] = v.primaryKey;
    const uniques: (readonly string[])[] = [...v.uniques];
    for (const b of bases) {
      const base = tables.get(b);
      if (base === undefined) continue;
      if (primaryKey.length === 0 && base.primaryKey.length > 0) {
        const pk = exposed(cols, b, base.primaryKey);
        if (pk !== null) primaryKey = pk;
      }
      for (const u of base.uniques) {
        const mapped = exposed(cols, b, u);
        if (mapped !== null) uniques.push(mapped);
      }
    }
    result.set(key, { ...v, primaryKey, uniques });
  }
  return { tables: result, foreignKeys: out };
}
