/**
 * Owns a hand-built schema cache for the OpenAPI unit tests: a commented
 * schema `api` with a table with a primary key, defaults, an enum, a
 * `character(1)` and an array column, a table with a foreign key, a view
 * that cannot be written, hostile names, and stable, volatile, overloaded,
 * trigger and uncallable functions.
 *
 * @module
 */

import type {
  Column,
  ForeignKey,
  Routine,
  RoutineParam,
  SchemaCache,
  Table,
} from "../../schema_cache/types.ts";
import { qualifiedKey } from "../../schema_cache/types.ts";

/** A column with defaults for everything not given. */
export function column(
  name: string,
  dataType: string,
  extra: Partial<Column> = {},
): Column {
  return {
    name,
    description: null,
    nullable: true,
    type: dataType,
    nominalType: dataType,
    dataType,
    maxLength: null,
    defaultValue: null,
    generated: false,
    enumValues: [],
    position: 0,
    ...extra,
  };
}

/** A table (or view) with defaults for everything not given. */
export function table(
  name: string,
  columns: readonly Column[],
  extra: Partial<Table> = {},
): Table {
  return {
    schema: "api",
    name,
    description: null,
    isView: false,
    isPartitioned: false,
    insertable: true,
    updatable: true,
    deletable: true,
    primaryKey: [],
    uniques: [],
    columns,
    columnsByName: new Map(columns.map((c) => [c.name, c])),
    ...extra,
  };
}

/** An input argument. */
export function arg(
  name: string,
  type: string,
  required = true,
  variadic = false,
): RoutineParam {
  return { name, type, required, variadic };
}

/** A function with defaults for everything not given. */
export function routine(
  oid: number,
  name: string,
  params: readonly RoutineParam[],
  extra: Partial<Routine> = {},
): Routine {
  return {
    oid,
    schema: "api",
    name,
    description: null,
    params,
    returnTypeSchema: "pg_catalog",
    returnTypeName: "int4",
    returnsSet: false,
    returnsComposite: false,
    volatility: "s",
    estimatedRows: 0,
    firstArgType: null,
    ...extra,
  };
}

const items = table("items", [
  column("id", "bigint", {
    nullable: false,
    description: "The id",
    defaultValue: "nextval('api.items_id_seq'::regclass)",
  }),
  column("name", "character varying", {
    defaultValue: "'unnamed'::character varying",
  }),
  column("code", "character", { maxLength: 1 }),
  column("price", "numeric", { defaultValue: "42.5" }),
  column("active", "boolean", { defaultValue: "true" }),
  column("kind", "api.kind", {
    enumValues: ["small", "large"],
    defaultValue: "'small'::api.kind",
  }),
  column("tags", "text[]"),
  column("doc", "jsonb"),
], {
  description: "Items\n\nThings that are sold\nby the shop",
  primaryKey: ["id"],
});

const orders = table("orders", [
  column("id", "integer", { nullable: false }),
  column("item_id", "bigint", { description: "What was ordered" }),
], { description: "Orders", primaryKey: ["id"] });

const itemsView = table("items_view", [
  column("id", "bigint"),
  column("name", "text"),
], { isView: true, insertable: false, updatable: false, deletable: false });

const hostile = table('we"ird /~name', [
  column("  spaced  col ", "text"),
  column("ünï", "integer"),
]);

const hidden = table("elsewhere", [column("x", "text")], { schema: "other" });

const foreignKeys: readonly ForeignKey[] = [
  {
    constraint: "orders_item_id_fkey",
    schema: "api",
    table: "orders",
    columns: ["item_id"],
    refSchema: "api",
    refTable: "items_view",
    refColumns: ["id"],
  },
  {
    constraint: "orders_item_id_fkey",
    schema: "api",
    table: "orders",
    columns: ["item_id"],
    refSchema: "api",
    refTable: "items",
    refColumns: ["id"],
  },
];

const routines: readonly Routine[] = [
  routine(1, "add", [arg("a", "integer"), arg("b", "integer", false)], {
    description: "Adds\nnumbers",
    volatility: "i",
  }),
  routine(2, "reset", [], { volatility: "v", description: "Resets" }),
  routine(3, "search", [arg("q", "text")]),
  routine(4, "search", [arg("q", "text"), arg("lim", "integer", false)]),
  routine(5, "sum_all", [arg("vals", "integer[]", true, true)]),
  routine(6, "on_change", [], {
    returnTypeName: "trigger",
    volatility: "v",
  }),
  routine(7, "two_unnamed", [arg("", "integer"), arg("", "integer")]),
  routine(8, "raw_body", [arg("", "json")]),
  routine(9, "with_enum", [arg("k", "api.kind"), arg("ks", "api.kind[]")]),
  routine(10, "other_fn", [], { schema: "other" }),
];

function byKey<T extends { schema: string; name: string }>(
  list: readonly T[],
): Map<string, T> {
  return new Map(list.map((x) => [qualifiedKey(x.schema, x.name), x]));
}

/** The fixture cache. */
export const CACHE: SchemaCache = {
  tables: byKey([items, orders, itemsView, hostile, hidden]),
  foreignKeys,
  routines: (() => {
    const m = new Map<string, Routine[]>();
    for (const r of routines) {
      const k = qualifiedKey(r.schema, r.name);
      m.set(k, [...(m.get(k) ?? []), r]);
    }
    return m;
  })(),
  computed: new Map(),
  pgVersion: 150000,
};

/** The schema comment of `api`. */
export const API_COMMENT = "Shop API\n\nSells things\nto people";
