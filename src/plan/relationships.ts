/**
 * Owns relationship discovery for embedding: from the foreign keys in the
 * schema cache, the many-to-one, one-to-many, one-to-one and many-to-many
 * (through a junction table) relationships between a source relation and an
 * embed target, narrowed by `!hint`, with PostgREST's PGRST200/PGRST201
 * errors when none or several remain.
 *
 * Pure.
 *
 * @module
 */

import { PgrstError } from "../error.ts";
import {
  computedOf,
  findTable,
  type ForeignKey,
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

function tableOf(
  cache: SchemaCache,
  schema: string,
  name: string,
): Table | undefined {
  return findTable(cache, schema, name);
}

/** Every relationship leaving `source`. */
export function relationshipsFrom(
  cache: SchemaCache,
  source: Table,
): Relationship[] {
  const out: Relationship[] = [];
  const fks = cache.foreignKeys;
  const is = (schema: string, name: string, t: Table) =>
    t.schema === schema && t.name === name;
  for (const fk of fks) {
    // many-to-one: the foreign key is on the source
    if (is(fk.schema, fk.table, source)) {
      const target = tableOf(cache, fk.refSchema, fk.refTable);
      if (target !== undefined) {
        out.push({
          kind: isUnique(source, fk.columns) ? "o2o" : "m2o",
          source,
          target,
          constraint: fk.constraint,
          columns: pairs(fk.columns, fk.refColumns),
        });
      }
    }
    // one-to-many: the foreign key points at the source
    if (is(fk.refSchema, fk.refTable, source)) {
      const target = tableOf(cache, fk.schema, fk.table);
      if (target !== undefined) {
        out.push({
          kind: isUnique(target, fk.columns) ? "o2o" : "o2m",
          source,
          target,
          constraint: fk.constraint,
          columns: pairs(fk.refColumns, fk.columns),
        });
      }
    }
  }
  // computed relationships: functions of the source row returning rows
  for (const r of computedOf(cache, source)) {
    if (!r.returnsComposite) continue;
    const target = tableOf(cache, r.returnTypeSchema, r.returnTypeName);
    if (target === undefined) continue;
    out.push({
      kind: "computed",
      source,
      target,
      routine: r,
      toOne: !r.returnsSet || r.estimatedRows === 1,
      constraint: r.name,
    });
  }
  // many-to-many through a junction whose key covers both foreign keys
  const bySource = fks.filter((fk) => is(fk.refSchema, fk.refTable, source));
  for (const fk1 of bySource) {
    const junction = tableOf(cache, fk1.schema, fk1.table);
    if (junction === undefined) continue;
    const covered = (fk: ForeignKey) =>
      fk.columns.every((c) => junction.primaryKey.includes(c));
    if (!covered(fk1)) continue;
    for (const fk2 of fks) {
      if (fk2 === fk1 || !is(fk2.schema, fk2.table, junction)) continue;
      if (!covered(fk2)) continue;
      const target = tableOf(cache, fk2.refSchema, fk2.refTable);
      if (target === undefined) continue;
      out.push({
        kind: "m2m",
        source,
        target,
        junction,
        constraint: fk2.constraint,
        sourceConstraint: fk1.constraint,
        sourceColumns: pairs(fk1.refColumns, fk1.columns),
        targetColumns: pairs(fk2.refColumns, fk2.columns),
      });
    }
  }
  return out;
}

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
  return {
    cardinality: cardinality(r),
    embedding: `${r.source.name} with ${r.target.name}`,
    relationship: r.kind === "computed"
      ? `${r.routine.schema}.${r.routine.name}`
      : r.kind === "m2m"
      ? `${r.junction.name} using ${r.sourceConstraint}(${
        r.sourceColumns.map((c) => c[1]).join(", ")
      }) and ${r.constraint}(${r.targetColumns.map((c) => c[1]).join(", ")})`
      : `${r.constraint} using ${r.source.name}(${
        r.columns.map((c) => c[0]).join(", ")
      }) and ${r.target.name}(${r.columns.map((c) => c[1]).join(", ")})`,
  };
}

function hintMatches(r: Relationship, hint: string): boolean {
  if (r.constraint === hint) return true;
  if (r.kind === "computed") return false;
  if (r.kind === "m2m") {
    return r.junction.name === hint ||
      r.sourceColumns.some((c) => c[1] === hint) ||
      r.targetColumns.some((c) => c[1] === hint);
  }
  return r.columns.some(([s, t]) => s === hint || t === hint);
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
  const all = relationshipsFrom(cache, source);
  // a computed relationship is embedded by its function's name
  const byFunction = all.filter((r) =>
    r.kind === "computed" && r.routine.name === target
  );
  let found = byFunction.length > 0
    ? byFunction
    : all.filter((r) =>
      r.kind !== "computed" && r.target.name === target &&
      r.target.schema === source.schema
    );
  if (found.length === 0) {
    // a foreign-key column or constraint name used as the target
    // (views are not considered there, as in PostgREST)
    found = all.filter((r) =>
      r.kind !== "m2m" && r.kind !== "o2m" && r.kind !== "computed" &&
      (!r.target.isView || r.target === source) &&
      (r.constraint === target ||
        (r.columns.length === 1 && r.columns[0]?.[0] === target))
    );
  }
  if (hint !== null) found = found.filter((r) => hintMatches(r, hint));
  if (found.length > 1 && target === source.name) {
    // a table embedding itself by name gets its children
    const children = found.filter((r) => r.kind === "o2m");
    if (children.length === 1) found = children;
  }
  const only = found[0];
  if (found.length === 1 && only !== undefined) return only;
  if (found.length === 0) {
    const using = hint === null ? "" : ` using the hint '${hint}'`;
    throw new PgrstError(
      400,
      "PGRST200",
      `Could not find a relationship between '${source.name}' and '${target}' in the schema cache`,
      {
        details:
          `Searched for a foreign key relationship between '${source.name}' and '${target}'${using} in the schema '${source.schema}', but no matches were found.`,
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
          `'${target}!${r.kind === "m2m" ? r.junction.name : r.constraint}'`
        ).join(", ")
      }. Find the desired relationship in the 'details' key.`,
    },
  );
}
