/**
 * Tests for the SQL fragment type: `ident`/`qi` quoting (hostile names, NUL,
 * reserved words), `param` numbering at `render()`, `sql` composition,
 * `join`, `keyword` and `EMPTY`, asserting the exact `{text, params}`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  EMPTY,
  ident,
  join,
  keyword,
  param,
  qi,
  render,
  Sql,
  sql,
} from "./sql.ts";

Deno.test("ident() wraps a name in double quotes", () => {
  assert.deepEqual(render(ident("items")), { text: '"items"', params: [] });
  assert.deepEqual(render(ident("Items")), { text: '"Items"', params: [] });
  assert.deepEqual(render(ident("my table")), {
    text: '"my table"',
    params: [],
  });
});

Deno.test("ident() doubles embedded double quotes", () => {
  assert.equal(render(ident('a"b')).text, '"a""b"');
  assert.equal(render(ident('"')).text, '""""');
  assert.equal(render(ident('quote"d')).text, '"quote""d"');
  assert.equal(
    render(ident('x" ; drop table items; --')).text,
    '"x"" ; drop table items; --"',
  );
});

Deno.test("ident() cuts the name at the first NUL", () => {
  assert.equal(render(ident("ab\u0000cd")).text, '"ab"');
  assert.equal(render(ident("\u0000x")).text, '""');
  assert.equal(render(ident('a"\u0000"b')).text, '"a"""');
});

Deno.test("ident() quotes reserved words and keeps unicode", () => {
  assert.equal(render(ident("select")).text, '"select"');
  assert.equal(render(ident("from")).text, '"from"');
  assert.equal(render(ident("order")).text, '"order"');
  assert.equal(render(ident("ünïcödé 🔥")).text, '"ünïcödé 🔥"');
});

Deno.test("ident() leaves backslashes, $ and single quotes alone", () => {
  assert.equal(render(ident("a\\b")).text, '"a\\b"');
  assert.equal(render(ident("$1")).text, '"$1"');
  assert.equal(render(ident("it's")).text, `"it's"`);
});

Deno.test("qi() quotes both the schema and the name", () => {
  assert.deepEqual(render(qi("api", "items")), {
    text: '"api"."items"',
    params: [],
  });
  assert.equal(
    render(qi('SPECIAL "@/\\#~_-', "select")).text,
    '"SPECIAL ""@/\\#~_-"."select"',
  );
});

Deno.test("param() renders as $1 and keeps the value out of the text", () => {
  assert.deepEqual(render(param("'; drop table items; --")), {
    text: "$1",
    params: ["'; drop table items; --"],
  });
});

Deno.test("render() numbers parameters in order across fragments", () => {
  const where = sql`${ident("a")} = ${param(1)} AND ${ident("b")} = ${
    param("x")
  }`;
  const q = sql`SELECT * FROM ${qi("api", "t")} WHERE ${where} LIMIT ${
    param(10)
  }`;
  assert.deepEqual(render(q), {
    text: 'SELECT * FROM "api"."t" WHERE "a" = $1 AND "b" = $2 LIMIT $3',
    params: [1, "x", 10],
  });
});

Deno.test("render() keeps values of any type as given", () => {
  const obj = { a: 1 };
  const q = sql`${param(null)}, ${param(obj)}, ${param(true)}, ${param(2n)}`;
  const r = render(q);
  assert.equal(r.text, "$1, $2, $3, $4");
  assert.equal(r.params.length, 4);
  assert.equal(r.params[0], null);
  assert.equal(r.params[1], obj);
  assert.equal(r.params[2], true);
  assert.equal(r.params[3], 2n);
});

Deno.test("render() numbers a reused fragment's parameters again", () => {
  const p = param("v");
  assert.deepEqual(render(sql`${p} = ${p}`), {
    text: "$1 = $2",
    params: ["v", "v"],
  });
});

Deno.test("render() of the same fragment twice starts from $1 each time", () => {
  const q = sql`x = ${param(5)}`;
  assert.deepEqual(render(q), { text: "x = $1", params: [5] });
  assert.deepEqual(render(q), { text: "x = $1", params: [5] });
});

Deno.test("sql`` keeps literal text and drops empty strings", () => {
  assert.deepEqual(render(sql`SELECT 1`), { text: "SELECT 1", params: [] });
  assert.deepEqual(render(sql``), { text: "", params: [] });
  assert.deepEqual(render(sql`${EMPTY}`), { text: "", params: [] });
  assert.deepEqual(render(sql`a${EMPTY}b`), { text: "ab", params: [] });
});

Deno.test("sql`` accepts only Sql fragments as interpolations", () => {
  const name = "items; drop table items";
  // @ts-expect-error: a plain string is not a fragment
  const bad = () => sql`SELECT * FROM ${name}`;
  assert.equal(typeof bad, "function");
  assert.ok(sql`${ident(name)}` instanceof Sql);
});

Deno.test("join() separates fragments with ', ' or a given separator", () => {
  assert.deepEqual(render(join([ident("a"), ident("b"), param(3)])), {
    text: '"a", "b", $1',
    params: [3],
  });
  assert.deepEqual(
    render(
      join([sql`x = ${param(1)}`, sql`y = ${param(2)}`], keyword(" AND ")),
    ),
    { text: "x = $1 AND y = $2", params: [1, 2] },
  );
  assert.deepEqual(render(join([ident("only")])), {
    text: '"only"',
    params: [],
  });
  assert.deepEqual(render(join([])), { text: "", params: [] });
});

Deno.test("keyword() inserts text from our own source as is", () => {
  assert.deepEqual(render(sql`a ${keyword("IS NOT NULL")}`), {
    text: "a IS NOT NULL",
    params: [],
  });
});
