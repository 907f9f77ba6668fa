/**
 * Owns relationship discovery for embedding: from the foreign keys in the
 * schema cache (with their copies onto views), the many-to-one, one-to-many,
 * one-to-one and many-to-many (through a junction) relationships and the
 * computed relationships of a source relation, in PostgREST's order; and
 * resolving an embed target (`target[!hint]`) among them as PostgREST's
 * `findRel` does, with its PGRST200/PGRST201 errors when none or several
 * remain.
 *
 * Pure (the relationships of a cache are computed once and memoised).
 *
 * @module
 */

import { PgrstError } from "../error.ts";
import { closestMatch } from "./fuzzy.ts";
import {
  computedOf,
  findTable,
  type ForeignKey,
  qualifiedKey,
  type Routine,
  type SchemaCache,
  type Table,
} from "../schema_cache/types.ts";

/** Column pairs `[source column, target column]` joining two relations. */
export type JoinColumns = readonly (readonly [string, string])[];

/** A relationship from a source relation to an embed target. */
export type Relationship =
  | {
    readonly kind: "m2o" | "o2m" | "o2o";
    readonly source: Table;
    readonly target: Table;
    readonly constraint: string;
    readonly columns: JoinColumns;
    /** Source and target are the same relation (a self-reference). */
    readonly isSelf: boolean;
  }
  | {
    /** A function taking the source row and returning target rows. */
    readonly kind: "computed";
    readonly source: Table;
    readonly target: Table;
    readonly routine: Routine;
    readonly toOne: boolean;
    readonly constraint: string;
  }
  | {
    readonly kind: "m2m";
    readonly source: Table;
    readonly target: Table;
    readonly junction: Table;
    readonly constraint: string;
    readonly sourceConstraint: string;
    /** `[source column, junction column]`. */
    readonly sourceColumns: JoinColumns;
    /** `[target column, junction column]`. */
    readonly targetColumns: JoinColumns;
    readonly isSelf: boolean;
  };

/** Whether a relationship yields at most one row. */
export function isToOne(r: Relationship): boolean {
  if (r.kind === "computed") return r.toOne;
  return r.kind === "m2o" || r.kind === "o2o";
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function isUnique(t: Table, cols: readonly string[]): boolean {
  return t.uniques.some((u) => sameSet(u, cols));
}

function pairs(a: readonly string[], b: readonly string[]): JoinColumns {
  return a.map((x, i) => [x, b[i] ?? ""] as const);
}

// ---------------------------------------------------------------- order

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpList<T>(
  a: readonly T[],
  b: readonly T[],
  cmp: (x: T, y: T) => number,
): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const c = cmp(a[i] as T, b[i] as T);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function cmpPairs(a: JoinColumns, b: JoinColumns): number {
  return cmpList(a, b, (x, y) => cmpStr(x[0], y[0]) || cmpStr(x[1], y[1]));
}

function cmpTable(a: Table, b: Table): number {
  return cmpStr(a.schema, b.schema) || cmpStr(a.name, b.name);
}

const RANK = { o2m: 0, m2o: 1, o2o: 2, m2m: 3, computed: 4 } as const;

/**
 * PostgREST's order of relationships (its derived `Ord`): by target, then
 * self-references last, then cardinality (one-to-many, many-to-one,
 * one-to-one, many-to-many), constraint and columns (junction, constraints
 * and columns for many-to-many); computed relationships after the others.
 */
function compareRelationships(a: Relationship, b: Relationship): number {
  if (a.kind === "computed" || b.kind === "computed") {
    if (a.kind !== "computed") return -1;
    if (b.kind !== "computed") return 1;
    return cmpStr(a.routine.schema, b.routine.schema) ||
      cmpStr(a.routine.name, b.routine.name) ||
      cmpTable(a.target, b.target);
  }
  const head = cmpTable(a.target, b.target) ||
    Number(a.isSelf) - Number(b.isSelf) || RANK[a.kind] - RANK[b.kind];
  if (head !== 0) return head;
  if (a.kind === "m2m" && b.kind === "m2m") {
    return cmpTable(a.junction, b.junction) ||
      cmpStr(a.sourceConstraint, b.sourceConstraint) ||
      cmpStr(a.constraint, b.constraint) ||
      cmpPairs(a.sourceColumns, b.sourceColumns) ||
      cmpPairs(a.targetColumns, b.targetColumns);
  }
  if (a.kind !== "m2m" && b.kind !== "m2m") {
    return cmpStr(a.constraint, b.constraint) ||
      cmpPairs(a.columns, b.columns) ||
      Number(a.source.isView) - Number(b.source.isView) ||
      Number(a.target.isView) - Number(b.target.isView);
  }
  return 0;
}

// ---------------------------------------------------------------- discovery

/** The foreign-key relationships of a cache by source key, memoised. */
const byCache = new WeakMap<SchemaCache, Map<string, Relationship[]>>();

interface ManyToOne {
  readonly fk: ForeignKey;
  readonly target: Table;
}

function foreignKeyRelationships(
  cache: SchemaCache,
): Map<string, Relationship[]> {
  const known = byCache.get(cache);
  if (known !== undefined) return known;
  const out = new Map<string, Relationship[]>();
  const push = (r: Relationship) => {
    const k = qualifiedKey(r.source.schema, r.source.name);
    const list = out.get(k);
    if (list === undefined) out.set(k, [r]);
    else list.push(r);
  };
  // the many-to-one keys of each relation, for many-to-many
  const manyToOne = new Map<string, ManyToOne[]>();
  for (const fk of cache.foreignKeys) {
    const owner = findTable(cache, fk.schema, fk.table);
    const target = findTable(cache, fk.refSchema, fk.refTable);
    if (owner === undefined || target === undefined) continue;
    const oneToOne = fk.oneToOne ?? isUnique(owner, fk.columns);
    const isSelf = owner === target;
    push({
      kind: oneToOne ? "o2o" : "m2o",
      source: owner,
      target,
      constraint: fk.constraint,
      columns: pairs(fk.columns, fk.refColumns),
      isSelf,
    });
    push({
      kind: oneToOne ? "o2o" : "o2m",
      source: target,
      target: owner,
      constraint: fk.constraint,
      columns: pairs(fk.refColumns, fk.columns),
      isSelf,
    });
    if (!oneToOne) {
      const k = qualifiedKey(owner.schema, owner.name);
      const list = manyToOne.get(k);
      if (list === undefined) manyToOne.set(k, [{ fk, target }]);
      else list.push({ fk, target });
    }
  }
  // many-to-many through a junction whose primary key covers both keys
  for (const [k, keys] of manyToOne) {
    const junction = cache.tables.get(k);
    if (junction === undefined || junction.primaryKey.length === 0) continue;
    const covered = (fk: ForeignKey) =>
      fk.columns.every((c) => junction.primaryKey.includes(c));
    for (const a of keys) {
      if (!covered(a.fk)) continue;
      for (const b of keys) {
        if (a.fk.constraint === b.fk.constraint || !covered(b.fk)) continue;
        push({
          kind: "m2m",
          source: a.target,
          target: b.target,
          junction,
          constraint: b.fk.constraint,
          sourceConstraint: a.fk.constraint,
          sourceColumns: pairs(a.fk.refColumns, a.fk.columns),
          targetColumns: pairs(b.fk.refColumns, b.fk.columns),
          isSelf: a.target === b.target,
        });
      }
    }
  }
  byCache.set(cache, out);
  return out;
}

/**
 * Every relationship leaving `source`, in PostgREST's order. A computed
 * relationship replaces the foreign-key relationships to the table that
 * has its function's schema and name.
 */
export function relationshipsFrom(
  cache: SchemaCache,
  source: Table,
): Relationship[] {
  const fkRels = foreignKeyRelationships(cache).get(
    qualifiedKey(source.schema, source.name),
  ) ??
    [];
  const computed: Relationship[] = [];
  for (const r of computedOf(cache, source)) {
    if (!r.returnsComposite) continue;
    const target = findTable(cache, r.returnTypeSchema, r.returnTypeName);
    if (target === undefined) continue;
    computed.push({
      kind: "computed",
      source,
      target,
      routine: r,
      toOne: !r.returnsSet || r.estimatedRows === 1,
      constraint: r.name,
    });
  }
  const overridden = (t: Table) =>
    computed.some((c) =>
      c.kind === "computed" && c.routine.schema === t.schema &&
      c.routine.name === t.name
    );
  return [
    ...(computed.length === 0
      ? fkRels
      : fkRels.filter((r) => !overridden(r.target))),
    ...computed,
  ].sort(compareRelationships);
}

// ---------------------------------------------------------------- resolution

function cardinality(r: Relationship): string {
  switch (r.kind) {
    case "computed":
      return r.toOne ? "many-to-one" : "one-to-many";
    case "m2o":
      return "many-to-one";
    case "o2m":
      return "one-to-many";
    case "o2o":
      return "one-to-one";
    case "m2m":
      return "many-to-many";
  }
}

function describe(r: Relationship): Record<string, unknown> {
  if (r.kind === "computed") return {};
  return {
    cardinality: cardinality(r),
    embedding: `${r.source.name} with ${r.target.name}`,
    relationship: r.kind === "m2m"
      ? `${r.junction.name} using ${r.sourceConstraint}(${
        r.sourceColumns.map((c) => c[1]).join(", ")
      }) and ${r.constraint}(${r.targetColumns.map((c) => c[1]).join(", ")})`
      : `${r.constraint} using ${r.source.name}(${
        r.columns.map((c) => c[0]).join(", ")
      }) and ${r.target.name}(${r.columns.map((c) => c[1]).join(", ")})`,
  };
}

/**
 * Whether `r` is what `target[!hint]` names, as PostgREST's `findRel`:
 * a computed relationship by its function's name; a self-reference's
 * children by the relation's name (and, with a hint, the referencing
 * column) and its parent by the single FK column; otherwise the target's
 * name (narrowed by a hint naming the constraint, a single FK or
 * referenced column or the junction), or, without a hint, the constraint
 * name or single FK column when the target is not a view.
 */
function matches(r: Relationship, target: string, hint: string | null) {
  if (r.kind === "computed") return r.routine.name === target;
  const single = r.kind === "m2m" || r.columns.length !== 1
    ? undefined
    : r.columns[0];
  const fkColumn = (h: string) => single !== undefined && single[0] === h;
  const refColumn = (h: string) => single !== undefined && single[1] === h;
  const constraint = (h: string) => r.kind !== "m2m" && r.constraint === h;
  const byName = target === r.target.name;
  if (r.isSelf) {
    if (hint === null) {
      return (byName && r.kind === "o2m") ||
        (fkColumn(target) && r.kind === "m2o");
    }
    return byName && r.kind === "o2m" && refColumn(hint);
  }
  if (hint === null) {
    return byName ||
      ((constraint(target) || fkColumn(target)) && !r.target.isView);
  }
  return byName && (
    constraint(hint) || fkColumn(hint) || refColumn(hint) ||
    (r.kind === "m2m" && r.junction.name === hint)
  );
}

/**
 * PostgREST's suggestion for a relationship that was not found: a close
 * target among the source's relationships, or, when the source has none
 * (no foreign key involves it: one through a junction of a schema that is
 * not exposed counts, as PostgREST removes those only afterwards), a close
 * source among the relations that have some.
 */
function noRelationshipHint(
  cache: SchemaCache,
  source: Table,
  rels: readonly Relationship[],
  target: string,
): string | null {
  const involved = (schema: string, table: string) =>
    schema === source.schema && table === source.name;
  if (
    rels.length > 0 ||
    cache.foreignKeys.some((fk) =>
      involved(fk.schema, fk.table) || involved(fk.refSchema, fk.refTable)
    )
  ) {
    const names = [...new Set(rels.map((r) => r.target.name))];
    if (names.includes(target)) return null;
    const best = closestMatch(target, names, 0.33);
    return best === null
      ? null
      : `Perhaps you meant '${best}' instead of '${target}'.`;
  }
  const parents = new Set<string>();
  for (const list of foreignKeyRelationships(cache).values()) {
    for (const r of list) {
      if (
        r.source.schema === source.schema && r.target.schema === source.schema
      ) parents.add(r.source.name);
    }
  }
  const best = closestMatch(source.name, [...parents], 0.33);
  return best === null || best === source.name
    ? null
    : `Perhaps you meant '${best}' instead of '${source.name}'.`;
}

/**
 * Resolves `target[!hint]` from `source`.
 * @throws {PgrstError} PGRST200 when none matches, PGRST201 when several do
 */
export function resolveRelationship(
  cache: SchemaCache,
  source: Table,
  target: string,
  hint: string | null,
): Relationship {
  const all = relationshipsFrom(cache, source).filter((r) =>
    r.target.schema === source.schema
  );
  const found = all.filter((r) => matches(r, target, hint));
  const only = found[0];
  if (found.length === 1 && only !== undefined) return only;
  if (found.length === 0) {
    const using = hint === null ? "" : ` using the hint '${hint}'`;
    const suggestion = noRelationshipHint(cache, source, all, target);
    throw new PgrstError(
      400,
      "PGRST200",
      `Could not find a relationship between '${source.name}' and '${target}' in the schema cache`,
      {
        details:
          `Searched for a foreign key relationship between '${source.name}' and '${target}'${using} in the schema '${source.schema}', but no matches were found.`,
        ...(suggestion === null ? {} : { hint: suggestion }),
      },
    );
  }
  throw new PgrstError(
    300,
    "PGRST201",
    `Could not embed because more than one relationship was found for '${source.name}' and '${target}'`,
    {
      details: found.map(describe),
      hint: `Try changing '${target}' to one of the following: ${
        found.map((r) =>
          r.kind === "computed"
            ? ""
            : `'${r.target.name}!${
              r.kind === "m2m" ? r.junction.name : r.constraint
            }'`
        ).join(", ")
      }. Find the desired relationship in the 'details' key.`,
    },
  );
}
