/**
 * Tests of relationships through views: view chains and copied keys.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Column,
  type ForeignKey,
  qualifiedKey,
  type Table,
} from "./types.ts";
import {
  baseKeysOf,
  expandThroughViews,
  type RelationInfo,
  resolveViewColumns,
} from "./view_relationships.ts";

function table(
  schema: string,
  name: string,
  cols: string[],
  opts: Partial<Table> = {},
): Table {
  const columns: Column[] = cols.map((c, i) => ({
    name: c,
    description: null,
    nullable: true,
    type: "integer",
    nominalType: "integer",
    maxLength: null,
    defaultValue: null,
    generated: false,
    enumValues: [],
    position: i + 1,
  }));
  return {
    schema,
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
    ...opts,
  };
}

const relations = new Map<number, RelationInfo>([
  [1, {
    schema: "private",
    name: "orders",
    isView: false,
    attnames: new Map([[1, "id"], [2, "consumer"]]),
  }],
  [2, {
    schema: "private",
    name: "consumers",
    isView: false,
    attnames: new Map([[1, "id"]]),
  }],
  [3, {
    schema: "extra",
    name: "orders_mid",
    isView: true,
    attnames: new Map([[1, "oid"], [2, "cid"]]),
  }],
  [4, {
    schema: "api",
    name: "orders_view",
    isView: true,
    attnames: new Map([[1, "order_id"], [2, "consumer_id"]]),
  }],
  [5, {
    schema: "api",
    name: "consumers_view",
    isView: true,
    attnames: new Map([[1, "id"]]),
  }],
]);

const views = [
  {
    oid: 3,
    sources: [{ name: "oid", relation: 1, attnum: 1 }, {
      name: "cid",
      relation: 1,
      attnum: 2,
    }],
  },
  {
    oid: 4,
    sources: [{ name: "order_id", relation: 3, attnum: 1 }, {
      name: "consumer_id",
      relation: 3,
      attnum: 2,
    }],
  },
  { oid: 5, sources: [{ name: "id", relation: 2, attnum: 1 }] },
];

Deno.test("resolveViewColumns() follows a chain of views to the base table", () => {
  const cols = resolveViewColumns(views, relations);
  assert.deepEqual(
    cols.get(qualifiedKey("api", "orders_view"))?.get("consumer_id"),
    {
      rel: qualifiedKey("private", "orders"),
      column: "consumer",
    },
  );
});

Deno.test("expandThroughViews() copies a foreign key onto views of both ends", () => {
  const fk: ForeignKey = {
    constraint: "orders_consumer_fkey",
    schema: "private",
    table: "orders",
    columns: ["consumer"],
    refSchema: "private",
    refTable: "consumers",
    refColumns: ["id"],
  };
  const tables = new Map([
    [
      qualifiedKey("api", "orders_view"),
      table("api", "orders_view", ["order_id", "consumer_id"], {
        isView: true,
      }),
    ],
    [
      qualifiedKey("api", "consumers_view"),
      table("api", "consumers_view", ["id"], { isView: true }),
    ],
  ]);
  const { foreignKeys } = expandThroughViews(
    tables,
    [fk],
    resolveViewColumns(views, relations),
  );
  const viewToView = foreignKeys.find((f) =>
    f.table === "orders_view" && f.refTable === "consumers_view"
  );
  assert.deepEqual(viewToView?.columns, ["consumer_id"]);
  assert.deepEqual(viewToView?.refColumns, ["id"]);
  assert.equal(viewToView?.constraint, "orders_consumer_fkey");
});

Deno.test("expandThroughViews() gives a view the primary key its base exposes", () => {
  const base = table("api", "items", ["id", "name"], {
    primaryKey: ["id"],
    uniques: [["id"]],
  });
  const view = table("api", "items_view", ["item_id"], { isView: true });
  const rels = new Map<number, RelationInfo>([
    [10, {
      schema: "api",
      name: "items",
      isView: false,
      attnames: new Map([[1, "id"]]),
    }],
    [11, {
      schema: "api",
      name: "items_view",
      isView: true,
      attnames: new Map([[1, "item_id"]]),
    }],
  ]);
  const cols = resolveViewColumns([{
    oid: 11,
    sources: [{ name: "item_id", relation: 10, attnum: 1 }],
  }], rels);
  const out = expandThroughViews(
    new Map([[qualifiedKey("api", "items"), base], [
      qualifiedKey("api", "items_view"),
      view,
    ]]),
    [],
    cols,
  );
  assert.deepEqual(
    out.tables.get(qualifiedKey("api", "items_view"))?.primaryKey,
    ["item_id"],
  );
});

Deno.test("expandThroughViews() gives a view over a join the primary keys of all its bases", () => {
  const competitors = table("api", "competitors", ["id", "sponsor_id"], {
    primaryKey: ["id"],
    uniques: [["id"]],
  });
  const sponsors = table("api", "sponsors", ["id"], {
    primaryKey: ["id"],
    uniques: [["id"]],
  });
  const view = table("api", "competitors_sponsors", ["id", "sponsor_id"], {
    isView: true,
  });
  const rels = new Map<number, RelationInfo>([
    [1, {
      schema: "api",
      name: "competitors",
      isView: false,
      attnames: new Map([[1, "id"], [2, "sponsor_id"]]),
    }],
    [2, {
      schema: "api",
      name: "sponsors",
      isView: false,
      attnames: new Map([[1, "id"]]),
    }],
    [3, {
      schema: "api",
      name: "competitors_sponsors",
      isView: true,
      attnames: new Map([[1, "id"], [2, "sponsor_id"]]),
    }],
  ]);
  const cols = resolveViewColumns([{
    oid: 3,
    sources: [
      { name: "id", relation: 1, attnum: 1 },
      { name: "sponsor_id", relation: 2, attnum: 1 },
    ],
  }], rels);
  const out = expandThroughViews(
    new Map([competitors, sponsors, view].map((t) => [
      qualifiedKey(t.schema, t.name),
      t,
    ])),
    [],
    cols,
  );
  assert.deepEqual(
    out.tables.get(qualifiedKey("api", "competitors_sponsors"))?.primaryKey,
    ["id", "sponsor_id"],
  );
});

Deno.test("expandThroughViews() takes keys of base tables outside the cache from baseKeysOf()", () => {
  const rels = new Map<number, RelationInfo>([
    [1, {
      schema: "private",
      name: "items",
      isView: false,
      attnames: new Map([[1, "id"]]),
      primaryKey: ["id"],
      uniques: [["id"]],
    }],
    [2, {
      schema: "api",
      name: "items",
      isView: true,
      attnames: new Map([[1, "item_id"]]),
    }],
  ]);
  const cols = resolveViewColumns([{
    oid: 2,
    sources: [{ name: "item_id", relation: 1, attnum: 1 }],
  }], rels);
  const view = table("api", "items", ["item_id"], { isView: true });
  const out = expandThroughViews(
    new Map([[qualifiedKey("api", "items"), view]]),
    [],
    cols,
    baseKeysOf(rels),
  );
  assert.deepEqual(
    out.tables.get(qualifiedKey("api", "items"))?.primaryKey,
    ["item_id"],
  );
});
