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

/**
 * Which view columns expose which base columns: per view (by key), the
 * first view column (in the view's order) for each base `rel\u0000column`.
 */
type ExposureIndex = Map<string, Map<string, string>>;

function baseKey(rel: string, column: string): string {
  return `${rel}\u0000${column}`;
}

function exposureIndex(
  viewColumns: ReadonlyMap<string, ReadonlyMap<string, BaseColumn>>,
): ExposureIndex {
  const out: ExposureIndex = new Map();
  for (const [view, cols] of viewColumns) {
    const names = new Map<string, string>();
    for (const [name, base] of cols) {
      const k = baseKey(base.rel, base.column);
      if (!names.has(k)) names.set(k, name);
    }
    out.set(view, names);
  }
  return out;
}

/** The view's column names for base columns `cols` of `baseRel`, if all exposed. */
function exposed(
  names: ReadonlyMap<string, string>,
  baseRel: string,
  cols: readonly string[],
): string[] | null {
  const out: string[] = [];
  for (const c of cols) {
    const name = names.get(baseKey(baseRel, c));
    if (name === undefined) return null;
    out.push(name);
  }
  return out;
}

/**
 * Adds, for every foreign key, copies whose owner and/or target is a view
 * of the cache exposing the key's columns; and keys for views. The views
 * that may expose a key are looked up by its first column, so the work
 * grows with the views that do, not with every view for every key.
 */
export function expandThroughViews(
  tables: ReadonlyMap<string, Table>,
  fks: readonly ForeignKey[],
  viewColumns: ReadonlyMap<string, ReadonlyMap<string, BaseColumn>>,
): { tables: Map<string, Table>; foreignKeys: ForeignKey[] } {
  const views = [...tables.values()].filter((t) => t.isView);
  const position = new Map(views.map((v, i) => [v, i]));
  const index = exposureIndex(viewColumns);
  // the views (in cache order) exposing each base column
  const viewsByBase = new Map<
    string,
    { view: Table; names: ReadonlyMap<string, string> }[]
  >();
  for (const v of views) {
    const names = index.get(qualifiedKey(v.schema, v.name));
    if (names === undefined) continue;
    for (const k of names.keys()) {
      const list = viewsByBase.get(k) ?? [];
      list.push({ view: v, names });
      viewsByBase.set(k, list);
    }
  }
  const exposing = (rel: string, cols: readonly string[]) => {
    const first = cols[0];
    return first === undefined
      ? views.flatMap((v) => {
        const names = index.get(qualifiedKey(v.schema, v.name));
        return names === undefined ? [] : [{ view: v, names }];
      })
      : viewsByBase.get(baseKey(rel, first)) ?? [];
  };
  const out: ForeignKey[] = [...fks];
  const seen = new Set(
    fks.map((f) =>
      `${f.constraint}\u0000${f.schema}.${f.table}\u0000${f.refSchema}.${f.refTable}`
    ),
  );
  for (const fk of fks) {
    const owner = qualifiedKey(fk.schema, fk.table);
    const target = qualifiedKey(fk.refSchema, fk.refTable);
    const ownerViews = exposing(owner, fk.columns);
    const targetViews = exposing(target, fk.refColumns);
    if (ownerViews.length === 0 && targetViews.length === 0) continue;
    // candidates in cache order, each view once, as owner and/or target
    const candidates = new Map<Table, ReadonlyMap<string, string>>();
    for (const c of [...ownerViews, ...targetViews]) {
      candidates.set(c.view, c.names);
    }
    const ordered = [...candidates].sort((a, b) =>
      position.get(a[0])! - position.get(b[0])!
    );
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
    for (const [v, names] of ordered) {
      const o = exposed(names, owner, fk.columns);
      if (o !== null) {
        owners.push({ schema: v.schema, table: v.name, columns: o });
      }
      const t = exposed(names, target, fk.refColumns);
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
    const names = index.get(key);
    if (cols === undefined || names === undefined) continue;
    const bases = new Set([...cols.values()].map((b) => b.rel));
    let primaryKey: readonly string[] = v.primaryKey;
    const uniques: (readonly string[])[] = [...v.uniques];
    for (const b of bases) {
      const base = tables.get(b);
      if (base === undefined) continue;
      if (primaryKey.length === 0 && base.primaryKey.length > 0) {
        const pk = exposed(names, b, base.primaryKey);
        if (pk !== null) primaryKey = pk;
      }
      for (const u of base.uniques) {
        const mapped = exposed(names, b, u);
        if (mapped !== null) uniques.push(mapped);
      }
    }
    result.set(key, { ...v, primaryKey, uniques });
  }
  return { tables: result, foreignKeys: out };
}
