/**
 * Tests of rendering embedded resources: requests are parsed and planned
 * against a hand-built schema cache, then `readStatement` is rendered.
 * Covers lateral joins for to-one and to-many embeds, `!inner`, junction
 * tables, nested embeds, conditions inside the lateral subquery, embed null
 * filters, related order, spreads, computed relationships and aggregates;
 * identifiers are hostile and every value must be a `$n` parameter.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseApiRequest } from "../api_request/api_request.ts";
import { type Config, DEFAULT_CONFIG } from "../config/types.ts";
import { PgrstError } from "../error.ts";
import { planRequest } from "../plan/plan.ts";
import {
  type Column,
  type ForeignKey,
  qualifiedKey,
  type Routine,
  type SchemaCache,
  type Table,
} from "../schema_cache/types.ts";
import { countSql, readStatement } from "./read.ts";
import { render, type Statement } from "./sql.ts";

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
  name: string,
  cols: readonly string[],
  primaryKey: readonly string[] = [],
): Table {
  const columns = cols.map((c, i) =>
    column(c, c === "id" || c.endsWith("_id") ? "integer" : "text", i + 1)
  );
  return {
    schema: "api",
    name,
    description: null,
    isView: false,
    isPartitioned: false,
    insertable: true,
    updatable: true,
    deletable: true,
    primaryKey,
    uniques: primaryKey.length > 0 ? [primaryKey] : [],
    columns,
    columnsByName: new Map(columns.map((c) => [c.name, c])),
  };
}

function fk(
  constraint: string,
  from: string,
  columns: readonly string[],
  to: string,
  refColumns: readonly string[],
): ForeignKey {
  return {
    constraint,
    schema: "api",
    table: from,
    columns,
    refSchema: "api",
    refTable: to,
    refColumns,
  };
}

const BOOKS = table("books", ["id", "title", "author_id"], ["id"]);

const MAIN_AUTHOR: Routine = {
  schema: "api",
  name: "main_author",
  description: null,
  params: [{ name: "", type: "api.books", required: true, variadic: false }],
  returnTypeSchema: "api",
  returnTypeName: "authors",
  returnsSet: true,
  returnsComposite: true,
  volatility: "s",
  estimatedRows: 1,
  firstArgType: { schema: "api", name: "books" },
};

const TABLES: readonly Table[] = [
  table("authors", ["id", "name"], ["id"]),
  BOOKS,
  table("tags", ["id", "label"], ["id"]),
  table("book_tags", ["book_id", "tag_id"], ["book_id", "tag_id"]),
  // hostile names: quotes, a reserved word, spaces
  table('a"b', ["id", 'x"y']),
  table("select", ["id", "from", 'a"b_id', "order by"]),
];

const CACHE: SchemaCache = {
  tables: new Map(TABLES.map((t) => [qualifiedKey(t.schema, t.name), t])),
  foreignKeys: [
    fk("books_author_id_fkey", "books", ["author_id"], "authors", ["id"]),
    fk("book_tags_book_id_fkey", "book_tags", ["book_id"], "books", ["id"]),
    fk("book_tags_tag_id_fkey", "book_tags", ["tag_id"], "tags", ["id"]),
    fk('select_a"b_fkey', "select", ['a"b_id'], 'a"b', ["id"]),
  ],
  routines: new Map(),
  computed: new Map([[qualifiedKey("api", "books"), [MAIN_AUTHOR]]]),
  pgVersion: 170000,
};

const CONFIG: Config = {
  ...DEFAULT_CONFIG,
  dbSchemas: ["api"],
  dbAggregatesEnabled: true,
};

/** Parses, plans and renders `GET path?search`. */
function statement(
  path: string,
  search: string,
  config: Config = CONFIG,
): Statement {
  const req = parseApiRequest(
    { method: "GET", path, search, headers: new Headers(), body: null },
    config,
  );
  const plan = planRequest(req, config, CACHE);
  assert.equal(plan.kind, "read");
  if (plan.kind !== "read") throw new Error("unreachable");
  return render(readStatement(plan));
}

/** The source CTE's query inside the rendered main statement. */
function source(s: Statement): string {
  const m = /^WITH pgrst_source AS \((.*)\) SELECT /.exec(s.text);
  assert.ok(m !== null, s.text);
  const text = m[1] ?? "";
  // cut at the end of the CTE: the balanced parenthesis
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "(") depth++;
    if (ch === ")") {
      if (depth === 0) return text.slice(0, i);
      depth--;
    }
  }
  return text;
}

/** Asserts that no value text appears in the SQL, only `$n` parameters. */
function assertParameterised(s: Statement, values: readonly string[]): void {
  for (const v of values) {
    assert.ok(s.params.includes(v), `${v} is a parameter`);
    assert.ok(!s.text.includes(v), `${v} is not in the SQL text`);
  }
  const max = Math.max(
    0,
    ...[...s.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])),
  );
  assert.equal(max, s.params.length);
}

// ---------------------------------------------------------------- joins

Deno.test("a to-one embed is a LEFT JOIN LATERAL read with row_to_json as jsonb", () => {
  const s = statement("/books", "select=title,authors(name)");
  assert.equal(
    source(s),
    'SELECT "api"."books"."title", row_to_json("books_authors_1".*)::jsonb AS "authors" FROM "api"."books" LEFT JOIN LATERAL (SELECT "authors_1"."name" FROM "api"."authors" AS "authors_1" WHERE "authors_1"."id" = "api"."books"."author_id") AS "books_authors_1" ON TRUE',
  );
  assert.deepEqual(s.params, []);
});

Deno.test("a to-many embed is a json_agg as jsonb defaulting to '[]' with COALESCE", () => {
  const s = statement("/authors", "select=name,books(title)");
  assert.equal(
    source(s),
    `SELECT "api"."authors"."name", COALESCE("authors_books_1"."pgrst_agg", '[]') AS "books" FROM "api"."authors" LEFT JOIN LATERAL (SELECT json_agg("books_1_rows")::jsonb AS "pgrst_agg" FROM (SELECT "books_1"."title" FROM "api"."books" AS "books_1" WHERE "books_1"."author_id" = "api"."authors"."id") AS "books_1_rows") AS "authors_books_1" ON TRUE`,
  );
  assert.deepEqual(s.params, []);
});

Deno.test("!inner on a to-many embed is an INNER JOIN LATERAL on the aggregate IS NOT NULL", () => {
  const s = statement("/authors", "select=name,books!inner(title)");
  assert.match(
    source(s),
    /INNER JOIN LATERAL \(SELECT json_agg\("books_1_rows"\)::jsonb AS "pgrst_agg" .*\) AS "authors_books_1" ON "authors_books_1"\."pgrst_agg" IS NOT NULL$/,
  );
  assert.ok(!s.text.includes("LEFT JOIN"));
});

Deno.test("!inner on a to-one embed is an INNER JOIN LATERAL", () => {
  const s = statement("/books", "select=title,authors!inner(name)");
  assert.match(
    source(s),
    /FROM "api"\."books" INNER JOIN LATERAL \(SELECT "authors_1"\."name" .*\) AS "books_authors_1" ON TRUE$/,
  );
  assert.ok(!s.text.includes("LEFT JOIN"));
});

Deno.test("!left is the default LEFT JOIN LATERAL", () => {
  const left = statement("/authors", "select=name,books!left(title)");
  assert.equal(
    source(left),
    source(statement("/authors", "select=name,books(title)")),
  );
});

Deno.test("a many-to-many embed joins the junction table inside the subquery", () => {
  const s = statement("/books", "select=title,tags(label)");
  assert.ok(
    source(s).includes(
      `(SELECT "tags_1"."label" FROM "api"."tags" AS "tags_1", "api"."book_tags" AS "book_tags_tags_1" WHERE "tags_1"."id" = "book_tags_tags_1"."tag_id" AND "book_tags_tags_1"."book_id" = "api"."books"."id")`,
    ),
    s.text,
  );
  assert.match(
    source(s),
    /COALESCE\("books_tags_1"\."pgrst_agg", '\[\]'\) AS "tags"/,
  );
});

Deno.test("a nested embed is a lateral join inside its parent's subquery, correlated to it", () => {
  const s = source(
    statement("/authors", "select=name,books(title,tags(label))"),
  );
  const inner = s.indexOf('FROM "api"."books" AS "books_1" LEFT JOIN LATERAL');
  assert.ok(inner > 0, s);
  assert.ok(s.includes('"book_tags_tags_2"."book_id" = "books_1"."id"'), s);
  assert.ok(
    s.includes('WHERE "books_1"."author_id" = "api"."authors"."id"'),
    s,
  );
});

Deno.test("an alias names the embed's JSON key", () => {
  const s = source(statement("/books", "select=title,writer:authors(name)"));
  assert.ok(
    s.includes('row_to_json("books_authors_1".*)::jsonb AS "writer"'),
    s,
  );
});

Deno.test("a computed relationship calls the function with the parent row", () => {
  const s = source(statement("/books", "select=title,main_author(name)"));
  assert.ok(
    s.includes(
      'LEFT JOIN LATERAL (SELECT "authors_1"."name" FROM "api"."main_author"("books") AS "authors_1") AS "books_main_author_1" ON TRUE',
    ),
    s,
  );
  assert.ok(
    s.includes('row_to_json("books_main_author_1".*)::jsonb AS "main_author"'),
  );
});

// ---------------------------------------------------------------- conditions inside the embed

Deno.test("embedded filters, order, limit and offset go inside the lateral subquery as parameters", () => {
  const s = statement(
    "/authors",
    "select=name,books(title)&books.title=eq.O'Hara;--&books.order=title.desc&books.limit=2&books.offset=1&name=eq.Ann",
  );
  assert.ok(
    source(s).includes(
      '(SELECT "books_1"."title" FROM "api"."books" AS "books_1" WHERE "books_1"."author_id" = "api"."authors"."id" AND "books_1"."title" = $1 ORDER BY "books_1"."title" DESC LIMIT $2::bigint OFFSET $3::bigint)',
    ),
    s.text,
  );
  assert.match(source(s), /ON TRUE WHERE "api"\."authors"\."name" = \$4$/);
  assert.deepEqual(s.params, ["O'Hara;--", 2, 1, "Ann"]);
  assertParameterised(s, ["O'Hara;--", "Ann"]);
});

Deno.test("conditions that all address the root stay out of the embeds' subqueries", () => {
  // planned in one pass (no embed path to resolve), as through two
  const s = statement(
    "/authors",
    "select=name,books(title)&name=eq.Ann&order=name&limit=3",
  );
  assert.ok(
    source(s).includes(
      '(SELECT "books_1"."title" FROM "api"."books" AS "books_1" WHERE "books_1"."author_id" = "api"."authors"."id")',
    ),
    s.text,
  );
  assert.match(
    source(s),
    /ON TRUE WHERE "api"\."authors"\."name" = \$1 ORDER BY "api"\."authors"\."name" LIMIT \$2::bigint$/,
  );
  assert.deepEqual(s.params, ["Ann", 3]);
  // the same request again plans and renders the same (cached plan pieces)
  assert.deepEqual(
    statement(
      "/authors",
      "select=name,books(title)&name=eq.Ann&order=name&limit=3",
    ),
    s,
  );
});

Deno.test("an embedded or= tree goes inside the lateral subquery with parameters", () => {
  const s = statement(
    "/authors",
    "select=name,books(title)&books.or=(title.eq.Alpha,title.like.*Beta*)",
  );
  assert.ok(
    source(s).includes(
      'WHERE "books_1"."author_id" = "api"."authors"."id" AND ("books_1"."title" = $1 OR "books_1"."title" LIKE $2)) AS "books_1_rows"',
    ),
    s.text,
  );
  assert.deepEqual(s.params, ["Alpha", "%Beta%"]);
  assertParameterised(s, ["Alpha", "%Beta%"]);
});

Deno.test("a filter on a nested embed lands in the nested subquery", () => {
  const s = statement(
    "/authors",
    "select=name,books(title,tags(label))&books.tags.label=eq.sci-fi",
  );
  assert.ok(
    source(s).includes(
      '"book_tags_tags_2"."book_id" = "books_1"."id" AND "tags_2"."label" = $1)',
    ),
    s.text,
  );
  assertParameterised(s, ["sci-fi"]);
});

Deno.test("an empty embed selects nothing but still filters through its subquery", () => {
  const s = statement(
    "/books",
    "select=title,authors()&authors.name=eq.Ann&authors=not.is.null",
  );
  assert.equal(
    source(s),
    'SELECT "api"."books"."title" FROM "api"."books" LEFT JOIN LATERAL (SELECT  FROM "api"."authors" AS "authors_1" WHERE "authors_1"."id" = "api"."books"."author_id" AND "authors_1"."name" = $1) AS "books_authors_1" ON TRUE WHERE row_to_json("books_authors_1".*) IS NOT NULL',
  );
  assertParameterised(s, ["Ann"]);
});

Deno.test("rel=is.null on a to-many embed tests its aggregate", () => {
  const s = source(statement("/authors", "select=name,books()&books=is.null"));
  assert.match(s, / ON TRUE WHERE "authors_books_1"\."pgrst_agg" IS NULL$/);
});

Deno.test("order=rel(col).desc orders by the to-one embed's lateral column", () => {
  const s = source(
    statement("/books", "select=title,authors(name)&order=authors(name).desc"),
  );
  assert.match(s, / ON TRUE ORDER BY "books_authors_1"\."name" DESC$/);
});

Deno.test("order=rel(col) on a to-many embed is 400 PGRST118", () => {
  assert.throws(
    () => statement("/authors", "select=name,books(title)&order=books(title)"),
    (e: unknown) => e instanceof PgrstError && e.code === "PGRST118",
  );
});

// ---------------------------------------------------------------- spreads and aggregates

Deno.test("a to-one spread lifts the embed's columns into the parent row", () => {
  const s = source(statement("/books", "select=title,...authors(name)"));
  assert.ok(
    s.startsWith(
      'SELECT "api"."books"."title", "books_authors_1"."name" FROM "api"."books" LEFT JOIN LATERAL',
    ),
    s,
  );
  assert.ok(!s.includes("row_to_json"));
});

Deno.test("a to-many spread lifts one json array per column", () => {
  const s = source(statement("/authors", "select=name,...books(title)"));
  assert.ok(
    s.includes(
      `(SELECT COALESCE(json_agg("books_1_rows"."title"), '[]') AS "title", json_agg(1) AS "pgrst_agg" FROM (`,
    ),
    s,
  );
  assert.ok(
    s.startsWith(
      'SELECT "api"."authors"."name", "authors_books_1"."title" FROM',
    ),
  );
});

Deno.test("an aggregate inside a to-many embed is computed in its subquery", () => {
  const s = source(statement("/authors", "select=name,books(count())"));
  assert.ok(
    s.includes(
      '(SELECT pg_catalog.count(*) AS "count" FROM "api"."books" AS "books_1" WHERE "books_1"."author_id" = "api"."authors"."id")',
    ),
    s,
  );
});

Deno.test("an aggregate in a to-one spread is hoisted to the parent and grouped", () => {
  const s = source(statement("/books", "select=...authors(name,id.count())"));
  assert.equal(
    s,
    'SELECT "books_authors_1"."name", pg_catalog.count("books_authors_1"."count") AS "count" FROM "api"."books" LEFT JOIN LATERAL (SELECT "authors_1"."name", "authors_1"."id" AS "count" FROM "api"."authors" AS "authors_1" WHERE "authors_1"."id" = "api"."books"."author_id") AS "books_authors_1" ON TRUE GROUP BY 1',
  );
});

Deno.test("a name twice in a to-one spread gets positional names, not an ambiguous reference", () => {
  // found by tests/security/fuzz_test.ts: ...authors(*,name) was 42702
  const s = source(statement("/books", "select=...authors(*,name)"));
  assert.equal(
    s,
    'SELECT "books_authors_1"."id", "books_authors_1"."pgrst_spread_1" AS "name", "books_authors_1"."pgrst_spread_2" AS "name" FROM "api"."books" LEFT JOIN LATERAL (SELECT "authors_1"."id", "authors_1"."name" AS "pgrst_spread_1", "authors_1"."name" AS "pgrst_spread_2" FROM "api"."authors" AS "authors_1" WHERE "authors_1"."id" = "api"."books"."author_id") AS "books_authors_1" ON TRUE',
  );
  // a star without a clash stays a star
  assert.ok(
    source(statement("/books", "select=...authors(*,n:name)")).includes(
      '(SELECT "authors_1".*, "authors_1"."name" AS "n" FROM',
    ),
  );
});

Deno.test("a name twice in a to-many spread gets positional names in its arrays", () => {
  const s = source(statement("/authors", "select=...books(title,title)"));
  assert.ok(
    s.startsWith(
      'SELECT "authors_books_1"."pgrst_spread_0" AS "title", "authors_books_1"."pgrst_spread_1" AS "title" FROM',
    ),
    s,
  );
  assert.ok(
    s.includes(
      `(SELECT COALESCE(json_agg("books_1_rows"."pgrst_spread_0"), '[]') AS "pgrst_spread_0", COALESCE(json_agg("books_1_rows"."pgrst_spread_1"), '[]') AS "pgrst_spread_1", json_agg(1) AS "pgrst_agg" FROM (SELECT "books_1"."title" AS "pgrst_spread_0", "books_1"."title" AS "pgrst_spread_1" FROM`,
    ),
    s,
  );
});

Deno.test("an aggregate inside an embed is PGRST123 when aggregates are disabled", () => {
  assert.throws(
    () =>
      statement("/authors", "select=name,books(count())", {
        ...CONFIG,
        dbAggregatesEnabled: false,
      }),
    (e: unknown) =>
      e instanceof PgrstError && e.code === "PGRST123" && e.status === 400,
  );
});

// ---------------------------------------------------------------- hostile identifiers

Deno.test("hostile table, column and embed names are quoted with doubled quotes", () => {
  const s = statement(
    '/a"b',
    `select="x\\"y",sel:select("from","order by")&sel.from=eq.x"y&order=id`,
  );
  const text = source(s);
  assert.equal(
    text,
    `SELECT "api"."a""b"."x""y", COALESCE("a""b_select_1"."pgrst_agg", '[]') AS "sel" FROM "api"."a""b" LEFT JOIN LATERAL (SELECT json_agg("select_1_rows")::jsonb AS "pgrst_agg" FROM (SELECT "select_1"."from", "select_1"."order by" FROM "api"."select" AS "select_1" WHERE "select_1"."a""b_id" = "api"."a""b"."id" AND "select_1"."from" = $1) AS "select_1_rows") AS "a""b_select_1" ON TRUE ORDER BY "api"."a""b"."id"`,
  );
  assertParameterised(s, ['x"y']);
});

Deno.test("outside quoted identifiers the SQL holds only keywords and $n parameters", () => {
  const s = statement(
    '/a"b',
    `select="x\\"y",sel:select("from",..."a\\"b"(id))&sel.order=from.desc&sel.limit=3`,
  );
  const bare = source(s)
    .replaceAll(/"(?:[^"]|"")*"/g, " ")
    .replaceAll(/'\[\]'/g, " ")
    .replaceAll(/\$\d+/g, " ");
  const words = new Set(bare.match(/[A-Za-z_][A-Za-z_0-9]*/g) ?? []);
  const allowed = new Set([
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "AS",
    "LEFT",
    "INNER",
    "JOIN",
    "LATERAL",
    "ON",
    "TRUE",
    "ORDER",
    "BY",
    "DESC",
    "LIMIT",
    "bigint",
    "json_agg",
    "row_to_json",
    "jsonb",
    "COALESCE",
  ]);
  assert.deepEqual([...words].filter((w) => !allowed.has(w)), []);
  assert.deepEqual(s.params, [3]);
});

// ---------------------------------------------------------------- legacy target names

/** Parses and plans `GET path?search` into a read plan. */
function readPlanOf(path: string, search: string) {
  const req = parseApiRequest(
    { method: "GET", path, search, headers: new Headers(), body: null },
    CONFIG,
  );
  const plan = planRequest(req, CONFIG, CACHE);
  if (plan.kind !== "read") throw new Error("not a read");
  return plan;
}

Deno.test("a filter naming an aliased embed by its relation name carries PostgREST's deprecation warning", () => {
  const legacy = readPlanOf(
    "/authors",
    "select=name,the_books:books(title)&books.title=eq.Mort",
  );
  assert.equal(
    legacy.warning,
    "Embedded resource was referenced by relation name even though it has an alias. This is deprecated and will stop working in a future release. Update `books` to `the_books` in query string filters, orders or limits.",
  );
  // the filter still applies to the aliased embed
  assert.deepEqual(legacy.node.embeds[0]?.node.where.length, 1);
  const byAlias = readPlanOf(
    "/authors",
    "select=name,the_books:books(title)&the_books.title=eq.Mort",
  );
  assert.equal(byAlias.warning, undefined);
});

// ---------------------------------------------------------------- count queries

Deno.test("a count query has no embed joins: !inner and embed null filters are EXISTS subqueries (as PostgREST)", () => {
  const inner = readPlanOf(
    "/authors",
    "select=name,books!inner(title)&books.title=eq.Mort",
  );
  const c = render(countSql(inner.node, null));
  assert.equal(
    c.text,
    'SELECT 1 FROM "api"."authors" WHERE EXISTS (SELECT 1 FROM "api"."books" AS "books_1" WHERE "books_1"."author_id" = "api"."authors"."id" AND "books_1"."title" = $1)',
  );
  assert.deepEqual(c.params, ["Mort"]);
  const isNull = readPlanOf(
    "/books",
    "select=title,authors(name)&or=(authors.is.null,id.eq.1)",
  );
  assert.equal(
    render(countSql(isNull.node, null)).text,
    'SELECT 1 FROM "api"."books" WHERE (NOT EXISTS (SELECT 1 FROM "api"."authors" AS "authors_1" WHERE "authors_1"."id" = "api"."books"."author_id") OR "api"."books"."id" = $1)',
  );
});
