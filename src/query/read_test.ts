/**
 * Tests for rendering reads: every filter operator, logic trees, order,
 * select lists (aliases, casts, JSON paths, aggregates), the source, count
 * and main statements, asserting the exact `{text, params}`. Identifiers are
 * hostile (`a"b`, NUL, reserved words), every value is a `$n` parameter and
 * casts are validated.
 *
 * @module
 */

import assert from "node:assert/strict";
import type {
  Field,
  Filter,
  JsonStep,
  LogicTree,
  Operation,
  OrderTerm,
  SelectItem,
} from "../api_request/types.ts";
import { PgrstError } from "../error.ts";
import type { OutputMedia } from "../plan/negotiate.ts";
import type { PlannedItem, ReadNode, ReadPlan } from "../plan/plan.ts";
import type { Column, Table } from "../schema_cache/types.ts";
import { castType } from "./casts.ts";
import { arrayLiteral } from "./sql.ts";
import {
  bodySql,
  countSql,
  fieldName,
  fieldSql,
  filterSql,
  logicSql,
  orderSql,
  plannedCountStatement,
  readStatement,
  type Rel,
  selectSql,
  sourceSql,
} from "./read.ts";
import { qi, render, type Statement } from "./sql.ts";

// ---------------------------------------------------------------- fixtures

function column(name: string, nominalType: string, position: number): Column {
  return {
    name,
    description: null,
    nullable: true,
    type: nominalType,
    nominalType,
    maxLength: null,
    defaultValue: null,
    generated: false,
    enumValues: [],
    position,
  };
}

function table(
  schema: string,
  name: string,
  cols: readonly (readonly [string, string])[],
): Table {
  const columns = cols.map(([n, t], i) => column(n, t, i + 1));
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
  };
}

const ITEMS = table("api", "items", [
  ["id", "integer"],
  ["name", "text"],
  ["price", "numeric"],
  ["tags", "text[]"],
  ["data", "jsonb"],
  ["doc", "json"],
  ["search", "tsvector"],
]);

const REL: Rel = { ref: qi("api", "items"), types: ITEMS.columnsByName };

const T = '"api"."items"';

function f(name: string, ...jsonPath: JsonStep[]): Field {
  return { name, jsonPath };
}

function flt(
  field: Field | string,
  operation: Operation,
  negated = false,
): Filter {
  return {
    field: typeof field === "string" ? f(field) : field,
    negated,
    operation,
  };
}

function leaf(
  field: Field | string,
  operation: Operation,
  negated = false,
): LogicTree {
  return { kind: "filter", filter: flt(field, operation, negated) };
}

function col(
  field: Field | string,
  opts: {
    alias?: string;
    cast?: string;
    aggregate?: "count" | "sum" | "avg" | "min" | "max";
    aggregateCast?: string;
  } = {},
): Extract<SelectItem, { kind: "field" }> {
  return {
    kind: "field",
    field: typeof field === "string" ? f(field) : field,
    alias: opts.alias ?? null,
    cast: opts.cast ?? null,
    aggregate: opts.aggregate ?? null,
    aggregateCast: opts.aggregateCast ?? null,
  };
}

function node(
  opts: {
    table?: Table;
    select?: PlannedItem[];
    where?: LogicTree[];
    order?: OrderTerm[];
    offset?: number;
    limit?: number | null;
  } = {},
): ReadNode {
  return {
    table: opts.table ?? ITEMS,
    select: opts.select ?? [{ kind: "star" }],
    embeds: [],
    where: opts.where ?? [],
    embedFilters: [],
    computedFields: new Map(),
    order: opts.order ?? [],
    range: { offset: opts.offset ?? 0, limit: opts.limit ?? null },
  };
}

const JSON_MEDIA: OutputMedia = {
  kind: "json",
  stripNulls: false,
  contentType: "application/json; charset=utf-8",
};

function plan(
  n: ReadNode,
  opts: { count?: ReadPlan["count"]; media?: OutputMedia } = {},
): ReadPlan {
  return {
    kind: "read",
    call: null,
    node: n,
    count: opts.count ?? null,
    media: opts.media ?? JSON_MEDIA,
    headOnly: false,
  };
}

function filterText(filter: Filter): Statement {
  return render(filterSql(REL, filter));
}

function assertPgrst100(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (e: unknown) {
    caught = e;
  }
  assert.ok(
    caught instanceof PgrstError,
    `expected a PgrstError, got ${String(caught)}`,
  );
  assert.equal(caught.code, "PGRST100");
  assert.equal(caught.status, 400);
}

// ---------------------------------------------------------------- fields

Deno.test("fieldSql() qualifies the column with its relation", () => {
  assert.deepEqual(render(fieldSql(REL, f("id"))), {
    text: `${T}."id"`,
    params: [],
  });
});

Deno.test('fieldName() skips an empty JSON key: select=data->a->>"" is named a', () => {
  // found by tests/security/fuzz_test.ts: the output was AS "" (42601)
  const a = { arrow: "->", key: "a" } as const;
  const empty = { arrow: "->>", key: "" } as const;
  assert.equal(fieldName(f("data", a, empty)), "a");
  assert.equal(fieldName(f("data", empty)), "data");
  const { list } = selectSql(REL, [col(f("data", empty))]);
  assert.equal(render(list).text, `${T}."data"->>$1::text AS "data"`);
});

Deno.test('fieldSql() quotes a field named "*" as a column, never a row star', () => {
  // found by tests/security/fuzz_test.ts: select="*"->k rendered rel.*->$1
  assert.deepEqual(render(fieldSql(REL, f("*", { arrow: "->", key: "k" }))), {
    text: `to_jsonb(${T}."*")->$1::text`,
    params: ["k"],
  });
  assert.deepEqual(render(fieldSql(REL, f("*"))), {
    text: `${T}."*"`,
    params: [],
  });
});

Deno.test("fieldSql() converts a column of unknown type (a function's TABLE column) with to_jsonb before a JSON path", () => {
  assert.deepEqual(
    render(fieldSql(REL, f("returned", { arrow: "->", key: "r" }))),
    { text: `to_jsonb(${T}."returned")->$1::text`, params: ["r"] },
  );
  assert.deepEqual(render(fieldSql(REL, f("returned"))), {
    text: `${T}."returned"`,
    params: [],
  });
});

Deno.test("fieldSql() binds JSON keys as text and indexes as int", () => {
  assert.deepEqual(
    render(fieldSql(
      REL,
      f("data", { arrow: "->", key: "a" }, {
        arrow: "->>",
        key: "b",
      }),
    )),
    { text: `${T}."data"->$1::text->>$2::text`, params: ["a", "b"] },
  );
  assert.deepEqual(
    render(fieldSql(REL, f("doc", { arrow: "->", key: 0 }))),
    { text: `${T}."doc"->$1::int`, params: [0] },
  );
  assert.deepEqual(
    render(fieldSql(REL, f("data", { arrow: "->>", key: "'; drop--" }))),
    { text: `${T}."data"->>$1::text`, params: ["'; drop--"] },
  );
});

Deno.test("fieldSql() converts array and composite columns with to_jsonb", () => {
  assert.deepEqual(
    render(fieldSql(REL, f("tags", { arrow: "->>", key: 0 }))),
    { text: `to_jsonb(${T}."tags")->>$1::int`, params: [0] },
  );
});

Deno.test("fieldName() is the last JSON key, or the column name", () => {
  assert.equal(fieldName(f("id")), "id");
  assert.equal(
    fieldName(f("data", { arrow: "->", key: "a" }, { arrow: "->>", key: "b" })),
    "b",
  );
  assert.equal(fieldName(f("data", { arrow: "->", key: 3 })), "data");
  assert.equal(
    fieldName(
      f("data", { arrow: "->", key: 1 }, { arrow: "->", key: "mycol" }, {
        arrow: "->>",
        key: 2,
      }),
    ),
    "mycol",
  );
});

// ---------------------------------------------------------------- filters

Deno.test("filterSql() renders every simple operator with a bound value", () => {
  const ops = {
    eq: "=",
    neq: "<>",
    gt: ">",
    gte: ">=",
    lt: "<",
    lte: "<=",
    match: "~",
    imatch: "~*",
    cs: "@>",
    cd: "<@",
    ov: "&&",
    sl: "<<",
    sr: ">>",
    nxr: "&<",
    nxl: "&>",
    adj: "-|-",
    isdistinct: "IS DISTINCT FROM",
  } as const;
  for (const [op, symbol] of Object.entries(ops)) {
    assert.deepEqual(
      filterText(flt("id", {
        kind: "op",
        op: op as keyof typeof ops,
        value: "v*",
      })),
      { text: `${T}."id" ${symbol} $1`, params: ["v*"] },
      op,
    );
  }
});

Deno.test("filterSql() turns * into % for like and ilike only", () => {
  assert.deepEqual(
    filterText(flt("name", { kind: "op", op: "like", value: "*yx" })),
    { text: `${T}."name" LIKE $1`, params: ["%yx"] },
  );
  assert.deepEqual(
    filterText(flt("name", { kind: "op", op: "ilike", value: "*YY*" })),
    { text: `${T}."name" ILIKE $1`, params: ["%YY%"] },
  );
  assert.deepEqual(
    filterText(flt("name", { kind: "op", op: "match", value: "a*" })),
    { text: `${T}."name" ~ $1`, params: ["a*"] },
  );
});

Deno.test("filterSql() renders not. as NOT (...)", () => {
  assert.deepEqual(
    filterText(flt("id", { kind: "op", op: "eq", value: "5" }, true)),
    { text: `NOT (${T}."id" = $1)`, params: ["5"] },
  );
});

Deno.test("filterSql() renders in as = ANY of one bound array literal", () => {
  assert.deepEqual(
    filterText(flt("id", { kind: "in", values: ["1", "2", "3"] })),
    { text: `${T}."id" = ANY($1)`, params: ['{"1","2","3"}'] },
  );
  assert.deepEqual(
    filterText(
      flt("name", { kind: "in", values: ["a,b", 'c"d', "e\\f"] }, true),
    ),
    {
      text: `NOT (${T}."name" = ANY($1))`,
      params: ['{"a,b","c\\"d","e\\\\f"}'],
    },
  );
});

Deno.test("filterSql() renders an empty in list as an empty array", () => {
  assert.deepEqual(filterText(flt("id", { kind: "in", values: [""] })), {
    text: `${T}."id" = ANY($1)`,
    params: ["{}"],
  });
});

Deno.test('arrayLiteral() quotes every element and escapes \\ and "', () => {
  assert.equal(arrayLiteral([]), "{}");
  assert.equal(arrayLiteral(["1"]), '{"1"}');
  assert.equal(arrayLiteral(["a b", "{x}", "NULL"]), '{"a b","{x}","NULL"}');
  assert.equal(arrayLiteral(['"', "\\"]), '{"\\"","\\\\"}');
});

Deno.test("filterSql() renders is with each trilean keyword", () => {
  const kw = {
    null: "IS NULL",
    not_null: "IS NOT NULL",
    true: "IS TRUE",
    false: "IS FALSE",
    unknown: "IS UNKNOWN",
  } as const;
  for (const [value, sqlText] of Object.entries(kw)) {
    assert.deepEqual(
      filterText(flt("id", { kind: "is", value: value as keyof typeof kw })),
      { text: `${T}."id" ${sqlText}`, params: [] },
    );
  }
  assert.deepEqual(
    filterText(flt("id", { kind: "is", value: "null" }, true)),
    { text: `NOT (${T}."id" IS NULL)`, params: [] },
  );
});

Deno.test("filterSql() renders quantifiers as op ANY/ALL of a bound array", () => {
  assert.deepEqual(
    filterText(flt("id", {
      kind: "quant",
      op: "eq",
      quantifier: "any",
      value: "{1,2}",
    })),
    { text: `${T}."id" = ANY($1)`, params: ["{1,2}"] },
  );
  assert.deepEqual(
    filterText(flt("name", {
      kind: "quant",
      op: "like",
      quantifier: "all",
      value: "{a*,*b}",
    })),
    { text: `${T}."name" LIKE ALL($1)`, params: ["{a%,%b}"] },
  );
  assert.deepEqual(
    filterText(flt("id", {
      kind: "quant",
      op: "gt",
      quantifier: "all",
      value: "{1}",
    }, true)),
    { text: `NOT (${T}."id" > ALL($1))`, params: ["{1}"] },
  );
});

Deno.test("filterSql() renders fts on a tsvector column with each function", () => {
  const fns = {
    fts: "to_tsquery",
    plfts: "plainto_tsquery",
    phfts: "phraseto_tsquery",
    wfts: "websearch_to_tsquery",
  } as const;
  for (const [op, fn] of Object.entries(fns)) {
    const o = op as keyof typeof fns;
    assert.deepEqual(
      filterText(
        flt("search", { kind: "fts", op: o, language: null, value: "cat" }),
      ),
      { text: `${T}."search" @@ ${fn}($1)`, params: ["cat"] },
    );
    assert.deepEqual(
      filterText(
        flt("search", {
          kind: "fts",
          op: o,
          language: "french",
          value: "chat",
        }),
      ),
      {
        text: `${T}."search" @@ ${fn}($1::regconfig, $2)`,
        params: ["french", "chat"],
      },
    );
  }
});

Deno.test("filterSql() wraps a text column in to_tsvector for fts", () => {
  assert.deepEqual(
    filterText(
      flt("name", { kind: "fts", op: "fts", language: null, value: "x" }),
    ),
    { text: `to_tsvector(${T}."name") @@ to_tsquery($1)`, params: ["x"] },
  );
  assert.deepEqual(
    filterText(
      flt("name", { kind: "fts", op: "wfts", language: "simple", value: "of" }),
    ),
    {
      text:
        `to_tsvector($1::regconfig, ${T}."name") @@ websearch_to_tsquery($2::regconfig, $3)`,
      params: ["simple", "simple", "of"],
    },
  );
});

Deno.test("filterSql() filters on JSON paths with bound keys", () => {
  assert.deepEqual(
    filterText(
      flt(f("data", { arrow: "->>", key: "color" }), {
        kind: "op",
        op: "eq",
        value: "yellow",
      }),
    ),
    { text: `${T}."data"->>$1::text = $2`, params: ["color", "yellow"] },
  );
});

// ---------------------------------------------------------------- logic

Deno.test("logicSql() joins children with OR/AND in parentheses", () => {
  const tree: LogicTree = {
    kind: "expr",
    negated: false,
    op: "or",
    children: [
      leaf("id", { kind: "op", op: "eq", value: "1" }),
      {
        kind: "expr",
        negated: true,
        op: "and",
        children: [
          leaf("price", { kind: "op", op: "gt", value: "2" }),
          leaf("name", { kind: "is", value: "null" }, true),
        ],
      },
    ],
  };
  assert.deepEqual(render(logicSql(REL, tree)), {
    text:
      `(${T}."id" = $1 OR NOT (${T}."price" > $2 AND NOT (${T}."name" IS NULL)))`,
    params: ["1", "2"],
  });
});

Deno.test("logicSql() renders a single leaf without parentheses", () => {
  assert.deepEqual(
    render(logicSql(REL, leaf("id", { kind: "op", op: "lt", value: "3" }))),
    { text: `${T}."id" < $1`, params: ["3"] },
  );
});

// ---------------------------------------------------------------- order

Deno.test("orderSql() renders directions and nulls placement", () => {
  const terms: OrderTerm[] = [
    { kind: "field", field: f("id"), direction: "desc", nulls: "last" },
    { kind: "field", field: f("name"), direction: null, nulls: null },
    { kind: "field", field: f("price"), direction: "asc", nulls: "first" },
    {
      kind: "field",
      field: f("data", { arrow: "->>", key: "color" }),
      direction: null,
      nulls: "first",
    },
  ];
  assert.deepEqual(render(orderSql(REL, terms)), {
    text:
      `${T}."id" DESC NULLS LAST, ${T}."name", ${T}."price" ASC NULLS FIRST, ${T}."data"->>$1::text NULLS FIRST`,
    params: ["color"],
  });
});

// ---------------------------------------------------------------- select

Deno.test("selectSql() renders *, plain columns, aliases, casts and JSON paths", () => {
  const { list, groupBy } = selectSql(REL, [
    { kind: "star" },
    col("id"),
    col("name", { alias: "n" }),
    col("price", { cast: "text" }),
    col(f("data", { arrow: "->>", key: "color" })),
    col(f("data", { arrow: "->", key: 0 }), { alias: "first", cast: "int" }),
  ]);
  assert.deepEqual(render(list), {
    text:
      `${T}.*, ${T}."id", ${T}."name" AS "n", CAST(${T}."price" AS "text") AS "price", ` +
      `${T}."data"->>$1::text AS "color", CAST(${T}."data"->$2::int AS int) AS "first"`,
    params: ["color", 0],
  });
  assert.deepEqual(groupBy, []);
});

Deno.test("selectSql() quotes hostile aliases", () => {
  const { list } = selectSql(REL, [col("id", { alias: 'a"b\u0000c' })]);
  assert.equal(render(list).text, `${T}."id" AS "a""b"`);
});

Deno.test("selectSql() renders aggregates and groups by the other columns", () => {
  const { list, groupBy } = selectSql(REL, [
    col("name"),
    col("price", { aggregate: "sum" }),
    col("price", { alias: "top", aggregate: "max", aggregateCast: "int" }),
    col("id", { aggregate: "count" }),
    { kind: "count", alias: null, cast: null },
    { kind: "count", alias: "n", cast: "text" },
    col("tags"),
  ]);
  assert.deepEqual(render(list), {
    text: `${T}."name", pg_catalog.sum(${T}."price") AS "sum", ` +
      `CAST(pg_catalog.max(${T}."price") AS int) AS "top", ` +
      `pg_catalog.count(${T}."id") AS "count", pg_catalog.count(*) AS "count", ` +
      `CAST(pg_catalog.count(*) AS "text") AS "n", ${T}."tags"`,
    params: [],
  });
  assert.deepEqual(groupBy.map((g) => render(g).text), ["1", "7"]);
});

Deno.test("selectSql() validates casts: `text; drop table` is rejected", () => {
  for (
    const bad of [
      "text; drop table items",
      "text) AS x; drop table items; --",
      'text"',
      "int4 --",
      "",
    ]
  ) {
    assertPgrst100(() => selectSql(REL, [col("id", { cast: bad })]));
    assertPgrst100(() =>
      selectSql(REL, [col("id", { aggregate: "sum", aggregateCast: bad })])
    );
    assertPgrst100(() =>
      selectSql(REL, [{ kind: "count", alias: null, cast: bad }])
    );
  }
});

Deno.test("castType() accepts type names, spaced names and arrays only", () => {
  assert.equal(castType("text"), "text");
  assert.equal(castType("_int4"), "_int4");
  assert.equal(castType("double precision"), "double precision");
  assert.equal(castType("int[]"), "int[]");
  assertPgrst100(() => castType("text; drop table x"));
  assertPgrst100(() => castType("1int"));
  assertPgrst100(() => castType("a  b"));
  assertPgrst100(() => castType("int[][]x"));
});

// ---------------------------------------------------------------- statements

Deno.test("sourceSql() renders select, where, order, limit and offset", () => {
  const n = node({
    select: [col("id"), col("name")],
    where: [
      leaf("id", { kind: "op", op: "gt", value: "1" }),
      leaf("name", { kind: "op", op: "like", value: "*a*" }),
    ],
    order: [{ kind: "field", field: f("id"), direction: "desc", nulls: null }],
    limit: 10,
    offset: 5,
  });
  assert.deepEqual(render(sourceSql(n, null)), {
    text: `SELECT ${T}."id", ${T}."name" FROM ${T} WHERE ${T}."id" > $1 AND ` +
      `${T}."name" LIKE $2 ORDER BY ${T}."id" DESC LIMIT $3::bigint OFFSET $4::bigint`,
    params: ["1", "%a%", 10, 5],
  });
});

Deno.test("sourceSql() leaves out an absent limit and a zero offset", () => {
  assert.deepEqual(render(sourceSql(node(), null)), {
    text: `SELECT ${T}.* FROM ${T}`,
    params: [],
  });
  assert.deepEqual(render(sourceSql(node({ limit: 0 }), null)), {
    text: `SELECT ${T}.* FROM ${T} LIMIT $1::bigint`,
    params: [0],
  });
});

Deno.test("sourceSql() quotes hostile and reserved identifiers", () => {
  const hostile = table('api"; drop schema api; --', 'a"b', [
    ["from", "text"],
    ['quote"d', "text"],
    ["x\u0000y", "int"],
  ]);
  const n = node({
    table: hostile,
    select: [col("from"), col('quote"d'), col("x\u0000y")],
    where: [leaf("select", { kind: "is", value: "not_null" })],
  });
  const rel = '"api""; drop schema api; --"."a""b"';
  assert.deepEqual(render(sourceSql(n, null)), {
    text: `SELECT ${rel}."from", ${rel}."quote""d", ${rel}."x" FROM ${rel} ` +
      `WHERE ${rel}."select" IS NOT NULL`,
    params: [],
  });
});

Deno.test("sourceSql() binds every value as a $n parameter", () => {
  const values = [
    "'; drop table items; --",
    "$1",
    '"quoted"',
    "back\\slash",
    "\u0000nul",
  ];
  const n = node({
    where: values.map((v) => leaf("name", { kind: "op", op: "eq", value: v })),
    limit: 3,
  });
  const { text, params } = render(sourceSql(n, null));
  for (const v of values.filter((v) => v !== "$1")) {
    assert.ok(!text.includes(v), `${v} is not in the text`);
  }
  assert.equal(
    text,
    `SELECT ${T}.* FROM ${T} WHERE ${T}."name" = $1 AND ${T}."name" = $2 AND ` +
      `${T}."name" = $3 AND ${T}."name" = $4 AND ${T}."name" = $5 LIMIT $6::bigint`,
  );
  assert.deepEqual(params, [...values, 3]);
});

Deno.test("countSql() counts without select list, order or range", () => {
  const n = node({
    select: [col("id")],
    where: [leaf("id", { kind: "op", op: "lt", value: "3" })],
    order: [{ kind: "field", field: f("id"), direction: "asc", nulls: null }],
    limit: 1,
    offset: 1,
  });
  assert.deepEqual(render(countSql(n, null)), {
    text: `SELECT 1 FROM ${T} WHERE ${T}."id" < $1`,
    params: ["3"],
  });
});

Deno.test("bodySql() builds JSON arrays, single objects, stripped nulls and CSV", () => {
  assert.equal(
    render(bodySql({ media: JSON_MEDIA, call: null })).text,
    "coalesce(json_agg(_postgrest_t), '[]')",
  );
  assert.equal(
    render(bodySql({
      media: { kind: "json", stripNulls: true, contentType: "x" },
      call: null,
    })).text,
    "coalesce(json_agg(json_strip_nulls(row_to_json(_postgrest_t))), '[]')",
  );
  assert.equal(
    render(bodySql({
      media: { kind: "singular", stripNulls: false, contentType: "x" },
      call: null,
    })).text,
    "coalesce(json_agg(_postgrest_t)->0, 'null')",
  );
  assert.equal(
    render(bodySql({
      media: { kind: "singular", stripNulls: true, contentType: "x" },
      call: null,
    })).text,
    "coalesce(json_agg(json_strip_nulls(row_to_json(_postgrest_t)))->0, 'null')",
  );
  const csv = render(bodySql({
    media: { kind: "csv", stripNulls: false, contentType: "text/csv" },
    call: null,
  }));
  assert.deepEqual(csv.params, []);
  assert.match(csv.text, /string_agg\(substring\(_postgrest_t::text/);
});

Deno.test("bodySql() builds a GeoJSON FeatureCollection with ST_AsGeoJSON", () => {
  const geo = render(bodySql({
    media: {
      kind: "geojson",
      stripNulls: false,
      contentType: "application/geo+json",
    },
    call: null,
  }));
  assert.deepEqual(geo.params, []);
  assert.equal(
    geo.text,
    "json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(ST_AsGeoJSON(_postgrest_t)::json), '[]'))",
  );
});

Deno.test("bodySql() of a media type handler sends the aggregate's binary form", () => {
  const h = render(bodySql({
    media: {
      kind: "raw",
      stripNulls: false,
      contentType: "text/tab-separated-values",
      send: ["pg_catalog", "textsend"],
      handler: ["api", "tsv_agg"],
    },
    call: null,
  }));
  assert.equal(
    h.text,
    `coalesce(encode("pg_catalog"."textsend"("api"."tsv_agg"(_postgrest_t)), 'base64'), '')`,
  );
});

Deno.test("readStatement() wraps the source and reads the response GUCs", () => {
  const n = node({
    select: [col("id")],
    where: [leaf("id", { kind: "op", op: "eq", value: "1" })],
    limit: 2,
  });
  const tail =
    " AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, " +
    "coalesce(json_agg(_postgrest_t), '[]') AS body, " +
    "nullif(current_setting('response.headers', true), '') AS response_headers, " +
    "nullif(current_setting('response.status', true), '') AS response_status " +
    "FROM (SELECT * FROM pgrst_source) _postgrest_t";
  assert.deepEqual(render(readStatement(plan(n))), {
    text:
      `WITH pgrst_source AS (SELECT ${T}."id" FROM ${T} WHERE ${T}."id" = $1 ` +
      `LIMIT $2::bigint) SELECT null::bigint${tail}`,
    params: ["1", 2],
  });
});

Deno.test("readStatement() counts exactly with the filters but without the range", () => {
  const n = node({
    select: [col("id")],
    where: [leaf("id", { kind: "op", op: "eq", value: "1" })],
    limit: 2,
  });
  const { text, params } = render(readStatement(plan(n, { count: "exact" })));
  assert.ok(
    text.startsWith(
      `WITH pgrst_source AS (SELECT ${T}."id" FROM ${T} WHERE ${T}."id" = $1 ` +
        `LIMIT $2::bigint) SELECT (SELECT pg_catalog.count(*) FROM ` +
        `(SELECT 1 FROM ${T} WHERE ${T}."id" = $3) _pgrst_count) AS total_result_set, `,
    ),
    text,
  );
  assert.deepEqual(params, ["1", 2, "1"]);
});

Deno.test("plannedCountStatement() explains the count query as JSON", () => {
  const n = node({ where: [leaf("id", { kind: "op", op: "gt", value: "8" })] });
  assert.deepEqual(
    render(plannedCountStatement(plan(n, { count: "planned" }))),
    {
      text: `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${T} WHERE ${T}."id" > $1`,
      params: ["8"],
    },
  );
});
