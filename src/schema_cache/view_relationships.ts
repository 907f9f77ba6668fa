/**
 * Owns relationships through views: resolving each view column to the
 * base-table column it comes from (through chains of views), then copying
 * every foreign key onto the views that expose its columns (once for every
 * combination of view columns when a view exposes a key column several
 * times, as PostgREST does), and giving views the primary keys (all of its
 * base tables', concatenated) and unique keys of their base tables when they
 * expose them.
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
  /** Primary key column names of a table (absent when unknown). */
  readonly primaryKey?: readonly string[];
  /** Column sets of its primary key and unique constraints. */
  readonly uniques?: readonly (readonly string[])[];
}

/** The keys of a base table: its primary key and unique column sets. */
export interface BaseKeys {
  readonly primaryKey: readonly string[];
  readonly uniques: readonly (readonly string[])[];
}

/**
 * The keys of the base tables among `relations` (which may lie in schemas
 * that are not exposed), by `schema\u0000name`.
 */
export function baseKeysOf(
  relations: ReadonlyMap<number, RelationInfo>,
): Map<string, BaseKeys> {
  const out = new Map<string, BaseKeys>();
  for (const r of relations.values()) {
    if (r.isView || r.primaryKey === undefined) continue;
    out.set(qualifiedKey(r.schema, r.name), {
      primaryKey: r.primaryKey,
      uniques: r.uniques ?? [],
    });
  }
  return out;
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
 * view columns (in the view's order) for each base `rel\u0000column`.
 */
type ExposureIndex = Map<string, Map<string, string[]>>;

function baseKey(rel: string, column: string): string {
  return `${rel}\u0000${column}`;
}

function exposureIndex(
  viewColumns: ReadonlyMap<string, ReadonlyMap<string, BaseColumn>>,
): ExposureIndex {
  const out: ExposureIndex = new Map();
  for (const [view, cols] of viewColumns) {
    const names = new Map<string, string[]>();
    for (const [name, base] of cols) {
      const k = baseKey(base.rel, base.column);
      const list = names.get(k);
      if (list === undefined) names.set(k, [name]);
      else list.push(name);
    }
    out.set(view, names);
  }
  return out;
}

/** At most this many column combinations are copied per key and view. */
const MAX_COMBINATIONS = 64;

/**
 * Every choice of view columns for base columns `cols` of `baseRel` (one
 * view column per key column, in the view's order, the last key column
 * varying fastest); empty when some key column is not exposed.
 */
function exposedAll(
  names: ReadonlyMap<string, readonly string[]>,
  baseRel: string,
  cols: readonly string[],
): string[][] {
  let out: string[][] = [[]];
  for (const c of cols) {
    const options = names.get(baseKey(baseRel, c));
    if (options === undefined || options.length === 0) return [];
    const next: string[][] = [];
    for (const prefix of out) {
      for (const o of options) {
        if (next.length < MAX_COMBINATIONS) next.push([...prefix, o]);
      }
    }
    out = next;
  }
  return out;
}

/** The first view column for each of `cols`, if all are exposed. */
function exposedFirst(
  names: ReadonlyMap<string, readonly string[]>,
  baseRel: string,
  cols: readonly string[],
): string[] | null {
  const out: string[] = [];
  for (const c of cols) {
    const name = names.get(baseKey(baseRel, c))?.[0];
    if (name === undefined) return null;
    out.push(name);
  }
  return out;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/**
 * Adds, for every foreign key, copies whose owner and/or target is a view
 * of the cache exposing the key's columns (one per combination of view
 * columns); and keys for views. The views that may expose a key are looked
 * up by its first column, so the work grows with the views that do, not
 * with every view for every key. `baseKeys` gives the keys of base tables
 * outside the cache (non-exposed schemas); a key is one-to-one when its
 * columns are a unique key of its owner, and its copies inherit that.
 */
export function expandThroughViews(
  tables: ReadonlyMap<string, Table>,
  fks: readonly ForeignKey[],
  viewColumns: ReadonlyMap<string, ReadonlyMap<string, BaseColumn>>,
  baseKeys: ReadonlyMap<string, BaseKeys> = new Map(),
): { tables: Map<string, Table>; foreignKeys: ForeignKey[] } {
  const keysOf = (rel: string): BaseKeys | undefined => {
    const t = tables.get(rel);
    return t !== undefined && !t.isView ? t : baseKeys.get(rel);
  };
  const views = [...tables.values()].filter((t) => t.isView);
  const position = new Map(views.map((v, i) => [v, i]));
  const index = exposureIndex(viewColumns);
  // the views (in cache order) exposing each base column
  const viewsByBase = new Map<
    string,
    { view: Table; names: ReadonlyMap<string, readonly string[]> }[]
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
  const out: ForeignKey[] = [];
  const seen = new Set<string>();
  const add = (f: ForeignKey) => {
    const key = [
      f.constraint,
      f.schema,
      f.table,
      f.columns.join(","),
      f.refSchema,
      f.refTable,
      f.refColumns.join(","),
    ].join("\u0000");
    if (seen.has(key)) return;
    seen.add(key);
    out.push(f);
  };
  const flagged = fks.map((fk): ForeignKey => {
    const ownerKeys = keysOf(qualifiedKey(fk.schema, fk.table));
    return fk.oneToOne !== undefined || ownerKeys === undefined ? fk : {
      ...fk,
      oneToOne: ownerKeys.uniques.some((u) => sameSet(u, fk.columns)),
    };
  });
  for (const fk of flagged) add(fk);
  for (const fk of flagged) {
    const owner = qualifiedKey(fk.schema, fk.table);
    const target = qualifiedKey(fk.refSchema, fk.refTable);
    const ownerViews = exposing(owner, fk.columns);
    const targetViews = exposing(target, fk.refColumns);
    if (ownerViews.length === 0 && targetViews.length === 0) continue;
    // candidates in cache order, each view once, as owner and/or target
    const candidates = new Map<Table, ReadonlyMap<string, readonly string[]>>();
    for (const c of [...ownerViews, ...targetViews]) {
      candidates.set(c.view, c.names);
    }
    const ordered = [...candidates].sort((a, b) =>
      position.get(a[0])! - position.get(b[0])!
    );
    type End = { schema: string; table: string; columns: readonly string[] };
    const owners: End[] = [
      { schema: fk.schema, table: fk.table, columns: fk.columns },
    ];
    const targets: End[] = [
      { schema: fk.refSchema, table: fk.refTable, columns: fk.refColumns },
    ];
    for (const [v, names] of ordered) {
      for (const o of exposedAll(names, owner, fk.columns)) {
        owners.push({ schema: v.schema, table: v.name, columns: o });
      }
      for (const t of exposedAll(names, target, fk.refColumns)) {
        targets.push({ schema: v.schema, table: v.name, columns: t });
      }
    }
    for (const o of owners) {
      for (const t of targets) {
        add({
          ...fk,
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
  // views take the keys of their base tables when they expose them: the
  // primary key is every base table's exposed primary key, concatenated
  const result = new Map(tables);
  for (const v of views) {
    const key = qualifiedKey(v.schema, v.name);
    const cols = viewColumns.get(key);
    const names = index.get(key);
    if (cols === undefined || names === undefined) continue;
    const bases = new Set([...cols.values()].map((b) => b.rel));
    const primaryKey: string[] = [...v.primaryKey];
    const uniques: (readonly string[])[] = [...v.uniques];
    for (const b of bases) {
      const base = keysOf(b);
      if (base === undefined) continue;
      if (v.primaryKey.length === 0 && base.primaryKey.length > 0) {
        const pk = exposedFirst(names, b, base.primaryKey);
        if (pk !== null) {
          for (const c of pk) if (!primaryKey.includes(c)) primaryKey.push(c);
        }
      }
      for (const u of base.uniques) {
        const mapped = exposedFirst(names, b, u);
        if (mapped !== null) uniques.push(mapped);
      }
    }
    if (
      primaryKey.length > 0 && !uniques.some((u) => sameSet(u, primaryKey))
    ) {
      uniques.push(primaryKey);
    }
    result.set(key, { ...v, primaryKey, uniques });
  }
  return { tables: result, foreignKeys: out };
}
