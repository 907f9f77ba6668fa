/**
 * Tests for data representations (PostgREST's domain representations) in
 * rendering, on a hand-built cache: a column whose domain has cast
 * functions is formatted on output (`domain → json`), parsed from filter
 * values (`text → domain`) and from the body (`json → domain`). Function
 * names are quoted with `qi`, values stay `$n` parameters, and tables
 * without representations render as before.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Field, Filter, Operation } from "../api_request/types.ts";
import type { MutatePlan } from "../plan/mutate.ts";
import type { OutputMedia } from "../plan/negotiate.ts";
import type { PlannedItem, ReadNode } from "../plan/plan.ts";
import { representationOf } from "../schema_cache/load.ts";
import type {
  Column,
  Representation,
  Routine,
  Table,
} from "../schema_cache/types.ts";
import { mutateStatement } from "./mutate.ts";
import { filterSql, type Rel, relOf, selectSql, sourceSql } from "./read.ts";
import { qi, render, type Statement } from "./sql.ts";

// ---------------------------------------------------------------- fixtures

const COLOR: Representation = {
  toJson: { schema: "fmt", name: "json" },
  fromJson: { schema: "fmt", name: "color" },
  fromText: { schema: "fmt", name: "color" },
};
/** A domain with only an output format (no parsers). */
const TITLE: Representation = { toJson: { schema: "fmt", name: "title" } };

function column(
  name: string,
  position: number,
  repr?: Representation,
): Column {
  const c: Column = {
    name,
    description: null,
    nullable: true,
    type: repr === undefined ? "text" : "fmt.color",
    nominalType: repr === undefined ? "text" : "integer",
    maxLength: null,
    defaultValue: null,
    generated: false,
    enumValues: [],
    position,
  };
  return repr === undefined ? c : { ...c, repr };
}

function table(columns: Column[]): Table {
  return {
    schema: "api",
    name: "todos",
    description: null,
    isView: false,
    isPartitioned: false,
    insertable: true,
    updatable: true,
    deletable: true,
    primaryKey: ["id"],
    uniques: [["id"]],
    columns,
    columnsByName: new Map(columns.map((c) => [c.name, c])),
  };
}

const TODOS = table([
  column("id", 1),
  column("color", 2, COLOR),
  column("name", 3, TITLE),
]);
const PLAIN = table([column("id", 1), column("note", 2)]);

function node(select: PlannedItem[], t: Table = TODOS): ReadNode {
  return {
    table: t,
    select,
    embeds: [],
    where: [],
    embedFilters: [],
    computedFields: new Map(),
    order: [],
    range: { offset: 0, limit: null },
  };
}

function rel(t: Table = TODOS): Rel {
  return relOf(qi("api", "todos"), qi("api", "todos"), node([], t));
}

function f(name: string): Field {
  return { name, jsonPath: [] };
}

function field(
  name: string,
  opts: { alias?: string; cast?: string; aggregate?: "max" } = {},
): PlannedItem {
  return {
    kind: "field",
    field: f(name),
    alias: opts.alias ?? null,
    cast: opts.cast ?? null,
    aggregate: opts.aggregate ?? null,
    aggregateCast: null,
  };
}

function selectText(items: PlannedItem[], t: Table = TODOS): string {
  return render(selectSql(rel(t), items).list).text;
}

function filterText(name: string, operation: Operation): Statement {
  const filter: Filter = { field: f(name), negated: false, operation };
  return render(filterSql(rel(), filter));
}

const T = '"api"."todos"';
const JSON_MEDIA: OutputMedia = {
  kind: "json",
  stripNulls: false,
  contentType: "application/json; charset=utf-8",
};

// ---------------------------------------------------------------- output

Deno.test("a column with a json format is selected through its function under its own name", () => {
  assert.equal(
    selectText([field("id"), field("color")]),
    `${T}."id", "fmt"."json"(${T}."color") AS "color"`,
  );
});

Deno.test("an alias renames the formatted column", () => {
  assert.equal(
    selectText([field("color", { alias: "clr" })]),
    `"fmt"."json"(${T}."color") AS "clr"`,
  );
});

Deno.test("an explicit cast applies on top of the format", () => {
  assert.equal(
    selectText([field("color", { alias: "clr", cast: "text" })]),
    `CAST("fmt"."json"(${T}."color") AS "text") AS "clr"`,
  );
});

Deno.test("a star lists the columns and formats those with a representation", () => {
  assert.equal(
    selectText([{ kind: "star" }]),
    `${T}."id", "fmt"."json"(${T}."color") AS "color", "fmt"."title"(${T}."name") AS "name"`,
  );
});

Deno.test("a star over a table without representations stays table.*", () => {
  assert.equal(selectText([{ kind: "star" }], PLAIN), `${T}.*`);
});

Deno.test("an aggregate reads the stored value, and the formatted column groups by its column", () => {
  const { list, groupBy } = selectSql(rel(), [
    field("color"),
    field("id", { aggregate: "max" }),
  ]);
  assert.equal(
    render(list).text,
    `"fmt"."json"(${T}."color") AS "color", pg_catalog.max(${T}."id") AS "max"`,
  );
  assert.deepEqual(groupBy.map((g) => render(g).text), [`${T}."color"`]);
});

// ---------------------------------------------------------------- filters

Deno.test("an eq filter value goes through the text parser as a text parameter", () => {
  assert.deepEqual(
    filterText("color", { kind: "op", op: "eq", value: "000100" }),
    { text: `${T}."color" = "fmt"."color"($1::text)`, params: ["000100"] },
  );
});

Deno.test("in values are parsed one by one through unnest", () => {
  assert.deepEqual(
    filterText("color", { kind: "in", values: ["000100", "01E240"] }),
    {
      text:
        `${T}."color" = ANY(SELECT "fmt"."color"(pg_catalog.unnest($1::text[])))`,
      params: ['{"000100","01E240"}'],
    },
  );
});

Deno.test("like and ilike patterns are not parsed, as in PostgREST", () => {
  assert.deepEqual(
    filterText("color", { kind: "op", op: "ilike", value: "#*100" }),
    { text: `${T}."color" ILIKE $1`, params: ["#%100"] },
  );
});

Deno.test("a domain without a text parser takes the filter value as it is", () => {
  assert.deepEqual(
    filterText("name", { kind: "op", op: "eq", value: "Report" }),
    { text: `${T}."name" = $1`, params: ["Report"] },
  );
});

// ---------------------------------------------------------------- writes

function mutation(
  op: "insert" | "update",
  columns: readonly Column[],
  t: Table = TODOS,
): MutatePlan {
  return {
    kind: "mutate",
    op,
    method: op === "insert" ? "POST" : "PATCH",
    table: t,
    payload: {
      keys: columns.map((c) => c.name),
      json: '[{"id":1,"color":"#000100"}]',
      rows: 1,
      single: true,
      first: { id: 1, color: "#000100" },
    },
    columns,
    missingDefault: false,
    onConflict: null,
    where: [],
    returnMode: "minimal",
    read: node([{ kind: "star" }], t),
    returning: [],
    media: JSON_MEDIA,
    count: null,
    noop: false,
    applied: { resolution: false, missing: false },
  };
}

Deno.test("an insert parses a represented column's JSON value through its json parser", () => {
  const s = render(mutateStatement(mutation("insert", TODOS.columns)));
  assert.ok(
    s.text.includes(
      `INSERT INTO ${T} ("id", "color", "name") SELECT "pgrst_rec"."id", "fmt"."color"("pgrst_rj"."color"), "pgrst_rec"."name" FROM json_array_elements($1::json) AS "pgrst_j"("j"), json_populate_record(null::${T}, (SELECT coalesce(pg_catalog.json_object_agg("pgrst_e".key, "pgrst_e".value), '{}') FROM pg_catalog.json_each("pgrst_j"."j") AS "pgrst_e" WHERE "pgrst_e".key = ANY($2::text[]))) AS "pgrst_rec", json_to_record("pgrst_j"."j") AS "pgrst_rj"("color" json)`,
    ),
    s.text,
  );
  // only the keys without a parser reach json_populate_record
  assert.equal(s.params[1], '{"id","name"}');
});

Deno.test("keys outside the written columns are never parsed on a table with representations", () => {
  const id = TODOS.columnsByName.get("id");
  assert.ok(id !== undefined);
  const s = render(mutateStatement(mutation("update", [id])));
  assert.ok(
    s.text.includes(
      `UPDATE ${T} SET "id" = "pgrst_rec"."id" FROM (SELECT ($1::json)->0 AS "j") AS "pgrst_u", json_populate_record(null::${T}, (SELECT coalesce(`,
    ),
    s.text,
  );
  assert.ok(!s.text.includes("pgrst_rj"), s.text);
  assert.equal(s.params[1], '{"id"}');
});

Deno.test("an update parses a represented column through a function scan of the object", () => {
  const color = TODOS.columnsByName.get("color");
  assert.ok(color !== undefined);
  const s = render(mutateStatement(mutation("update", [color])));
  assert.ok(
    s.text.includes(
      `UPDATE ${T} SET "color" = "fmt"."color"("pgrst_rj"."color") FROM`,
    ),
    s.text,
  );
  assert.ok(
    s.text.includes(
      `FROM (SELECT ($1::json)->0 AS "j") AS "pgrst_u", json_populate_record(null::${T}, (SELECT coalesce(pg_catalog.json_object_agg("pgrst_e".key, "pgrst_e".value), '{}') FROM pg_catalog.json_each("pgrst_u"."j") AS "pgrst_e" WHERE "pgrst_e".key = ANY($2::text[]))) AS "pgrst_rec", json_to_record("pgrst_u"."j") AS "pgrst_rj"("color" json)`,
    ),
    s.text,
  );
});

Deno.test("a table without representations populates the record from the whole element", () => {
  const s = render(mutateStatement(mutation("insert", PLAIN.columns, PLAIN)));
  assert.ok(
    s.text.includes(
      `json_populate_record(null::${T}, "pgrst_j"."j") AS "pgrst_rec" RETURNING`,
    ),
    s.text,
  );
});

Deno.test("the rows of a write are read as the table's row type by computed fields", () => {
  const shout: Routine = {
    schema: "api",
    name: "shout",
    description: null,
    params: [{ name: "", type: "api.todos", required: true, variadic: false }],
    returnTypeSchema: "pg_catalog",
    returnTypeName: "text",
    returnsSet: false,
    returnsComposite: false,
    volatility: "s",
    estimatedRows: 0,
    firstArgType: { schema: "api", name: "todos" },
  };
  const n: ReadNode = {
    ...node([field("id"), field("shout")], PLAIN),
    computedFields: new Map([["shout", shout]]),
  };
  const rows = { kind: "rows" as const, from: qi("x", "y"), alias: "todos" };
  assert.equal(
    render(sourceSql(n, rows)).text,
    `SELECT "todos"."id", "api"."shout"("todos"::"api"."todos") FROM "x"."y"`,
  );
});

// ---------------------------------------------------------------- cache

Deno.test("the catalog's cast functions become a column's representation", () => {
  assert.deepEqual(
    representationOf({
      to_json: ["fmt", "json"],
      from_text: ["fmt", "color"],
    }),
    {
      toJson: { schema: "fmt", name: "json" },
      fromText: { schema: "fmt", name: "color" },
    },
  );
  assert.equal(representationOf(null), null);
  assert.equal(representationOf({}), null);
});
