/**
 * Tests for the query-string grammar: `select` (columns, `*`, aliases, casts,
 * JSON paths, embeds, spreads, aggregates), filters with every operator,
 * `and`/`or` trees, `order`, `limit`/`offset` (also on embeds) and the
 * PGRST100 errors with PostgREST's messages and details.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PgrstError } from "../error.ts";
import {
  parseColumnList,
  parseFilter,
  parseLogic,
  parseOrder,
  parseQueryParams,
  parseSelect,
  searchParams,
} from "./query_params.ts";
import type {
  Field,
  Filter,
  JsonStep,
  LogicTree,
  Operation,
  QueryParams,
  SelectItem,
} from "./types.ts";

// ---------------------------------------------------------------- helpers

function f(name: string, ...jsonPath: JsonStep[]): Field {
  return { name, jsonPath };
}

function arrow(key: string | number): JsonStep {
  return { arrow: "->", key };
}

function arrow2(key: string | number): JsonStep {
  return { arrow: "->>", key };
}

function col(
  field: Field | string,
  opts: Partial<
    Pick<
      Extract<SelectItem, { kind: "field" }>,
      "alias" | "cast" | "aggregate" | "aggregateCast"
    >
  > = {},
): SelectItem {
  return {
    kind: "field",
    field: typeof field === "string" ? f(field) : field,
    alias: opts.alias ?? null,
    cast: opts.cast ?? null,
    aggregate: opts.aggregate ?? null,
    aggregateCast: opts.aggregateCast ?? null,
  };
}

function embed(
  name: string,
  select: SelectItem[],
  opts: Partial<
    Pick<
      Extract<SelectItem, { kind: "embed" }>,
      "alias" | "hint" | "joinType" | "spread"
    >
  > = {},
): SelectItem {
  return {
    kind: "embed",
    name,
    alias: opts.alias ?? null,
    hint: opts.hint ?? null,
    joinType: opts.joinType ?? null,
    spread: opts.spread ?? false,
    select,
  };
}

const STAR: SelectItem = { kind: "star" };

function filter(field: Field, operation: Operation, negated = false): Filter {
  return { field, negated, operation };
}

function leaf(field: Field, operation: Operation, negated = false): LogicTree {
  return { kind: "filter", filter: filter(field, operation, negated) };
}

function qp(search: string, isRpc = false): QueryParams {
  return parseQueryParams(new URLSearchParams(search), { isRpc });
}

/** Runs `fn`, asserts it throws PGRST100, and returns the error. */
function parseFailure(fn: () => unknown): PgrstError {
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
  return caught;
}

const ID = f("id");

// ---------------------------------------------------------------- select

Deno.test("parseSelect() reads plain columns and *", () => {
  assert.deepEqual(parseSelect("id,name"), [col("id"), col("name")]);
  assert.deepEqual(parseSelect("*"), [STAR]);
  assert.deepEqual(parseSelect("*,id"), [STAR, col("id")]);
});

Deno.test("parseSelect() returns no items for an empty string", () => {
  assert.deepEqual(parseSelect(""), []);
});

Deno.test("parseSelect() reads aliases a:b", () => {
  assert.deepEqual(parseSelect("a:b"), [col("b", { alias: "a" })]);
  assert.deepEqual(parseSelect("myId:id,n:name"), [
    col("id", { alias: "myId" }),
    col("name", { alias: "n" }),
  ]);
});

Deno.test("parseSelect() reads casts a::text, also with an alias", () => {
  assert.deepEqual(parseSelect("a::text"), [col("a", { cast: "text" })]);
  assert.deepEqual(parseSelect("x:a::int"), [
    col("a", { alias: "x", cast: "int" }),
  ]);
  assert.deepEqual(parseSelect("a::double precision"), [
    col("a", { cast: "double precision" }),
  ]);
});

Deno.test("parseSelect() reads JSON paths with -> and ->>", () => {
  assert.deepEqual(parseSelect("data->a->>b"), [
    col(f("data", arrow("a"), arrow2("b"))),
  ]);
  assert.deepEqual(parseSelect("x:data->>a::int"), [
    col(f("data", arrow2("a")), { alias: "x", cast: "int" }),
  ]);
});

Deno.test("parseSelect() reads JSON array indexes as numbers", () => {
  assert.deepEqual(parseSelect("data->0"), [col(f("data", arrow(0)))]);
  assert.deepEqual(parseSelect("data->-1->>x"), [
    col(f("data", arrow(-1), arrow2("x"))),
  ]);
  assert.deepEqual(parseSelect("data->pockets->1,id"), [
    col(f("data", arrow("pockets"), arrow(1))),
    col("id"),
  ]);
});

Deno.test("parseSelect() reads dashed and quoted names", () => {
  assert.deepEqual(parseSelect("my-col,a-b->c"), [
    col("my-col"),
    col(f("a-b", arrow("c"))),
  ]);
  assert.deepEqual(parseSelect('"a,b","quote\\"d"'), [
    col("a,b"),
    col('quote"d'),
  ]);
});

Deno.test("parseSelect() reads embeds rel(a,b), nested and empty", () => {
  assert.deepEqual(parseSelect("rel(a,b)"), [
    embed("rel", [col("a"), col("b")]),
  ]);
  assert.deepEqual(parseSelect("id,authors(name,books(*))"), [
    col("id"),
    embed("authors", [col("name"), embed("books", [STAR])]),
  ]);
  assert.deepEqual(parseSelect("authors()"), [embed("authors", [])]);
});

Deno.test("parseSelect() reads alias:rel!fk!inner(...) and !left", () => {
  assert.deepEqual(parseSelect("alias:rel!fk!inner(a)"), [
    embed("rel", [col("a")], { alias: "alias", hint: "fk", joinType: "inner" }),
  ]);
  assert.deepEqual(parseSelect("rel!fk(*)"), [
    embed("rel", [STAR], { hint: "fk" }),
  ]);
  assert.deepEqual(parseSelect("rel!left(*)"), [
    embed("rel", [STAR], { joinType: "left" }),
  ]);
});

Deno.test({
  name: "parseSelect() accepts the join type before the hint",
  // PostgREST's pEmbedParams takes hint and join type in either order (its
  // doctest: "alias:rel!inner!hint(*)" is hint "hint" with an inner join).
  fn() {
    assert.deepEqual(parseSelect("alias:rel!inner!hint(*)"), [
      embed("rel", [STAR], { alias: "alias", hint: "hint", joinType: "inner" }),
    ]);
  },
});

Deno.test("parseSelect() reads spreads ...rel(a)", () => {
  assert.deepEqual(parseSelect("...rel(a)"), [
    embed("rel", [col("a")], { spread: true }),
  ]);
  assert.deepEqual(parseSelect("id,...rel!fk!inner(a,b)"), [
    col("id"),
    embed("rel", [col("a"), col("b")], {
      spread: true,
      hint: "fk",
      joinType: "inner",
    }),
  ]);
});

Deno.test("parseSelect() rejects a spread of a column", () => {
  parseFailure(() => parseSelect("...a"));
});

Deno.test("parseSelect() reads aggregates a.sum() with casts and aliases", () => {
  assert.deepEqual(parseSelect("a.sum()"), [col("a", { aggregate: "sum" })]);
  for (const agg of ["count", "sum", "avg", "min", "max"] as const) {
    assert.deepEqual(parseSelect(`price.${agg}()`), [
      col("price", { aggregate: agg }),
    ]);
  }
  assert.deepEqual(parseSelect("a.sum()::int"), [
    col("a", { aggregate: "sum", aggregateCast: "int" }),
  ]);
  assert.deepEqual(parseSelect("x:a::text.avg()"), [
    col("a", { alias: "x", cast: "text", aggregate: "avg" }),
  ]);
});

Deno.test("parseSelect() reads count() with an alias and a cast", () => {
  assert.deepEqual(parseSelect("count()"), [
    { kind: "count", alias: null, cast: null },
  ]);
  assert.deepEqual(parseSelect("mood,c:count()::int"), [
    col("mood"),
    { kind: "count", alias: "c", cast: "int" },
  ]);
});

Deno.test("parseSelect() ignores spaces around items", () => {
  // PostgREST's pFieldName strips its identifiers, and its own specs send
  // `select=id, name, clients(*)`.
  assert.deepEqual(parseSelect("id, name"), [col("id"), col("name")]);
  assert.deepEqual(parseSelect("id, clients(id, name)"), [
    col("id"),
    embed("clients", [col("id"), col("name")]),
  ]);
});

Deno.test({
  name: "parseSelect() strips spaces before a comma",
  // PostgREST's pIdentifier strips identifiers (doctest: " no leading or
  // trailing spaces " is "no leading or trailing spaces").
  fn() {
    assert.deepEqual(parseSelect("a , b"), [col("a"), col("b")]);
    assert.deepEqual(parseSelect(" id "), [col("id")]);
  },
});

Deno.test("parseSelect() never lets text leave the cast position", () => {
  // like PostgREST's parser, text after the last complete item is ignored:
  // the cast is `text` and nothing else reaches SQL
  const items = parseSelect("a::text; drop table x");
  assert.equal(items.length, 1);
  const first = items[0];
  assert.ok(first !== undefined && first.kind === "field");
  assert.equal(first.cast, "text");
  assert.equal(parseSelect("a::text)").length, 1);
  parseFailure(() => parseSelect('a::"text"'));
});

Deno.test("parseSelect() reports PGRST100 with the position", () => {
  assert.equal(
    parseFailure(() => parseSelect("id,clients(name[])")).message,
    '"failed to parse select parameter (id,clients(name[]))" (line 1, column 16)',
  );
  assert.equal(
    parseFailure(() => parseSelect("name::")).message,
    '"failed to parse select parameter (name::)" (line 1, column 7)',
  );
  // a complete item followed by other text: the rest is ignored
  assert.deepEqual(parseSelect("*!hint"), [{ kind: "star" }]);
  const trailing = parseFailure(() => parseSelect("id,"));
  assert.equal(
    trailing.message,
    '"failed to parse select parameter (id,)" (line 1, column 4)',
  );
  assert.equal(
    trailing.details,
    "unexpected end of input expecting field name (* or [a..z0..9_$])",
  );
});

Deno.test("parseSelect() reports a bad JSON key as PostgREST does", () => {
  // JsonOperatorSpec: "fails when a JSON key has reserved characters"
  const e = parseFailure(() =>
    parseSelect("data->(!@#$%^&*_d->>!@#$%^&*_e::integer")
  );
  assert.equal(
    e.message,
    '"failed to parse select parameter (data->(!@#$%^&*_d->>!@#$%^&*_e::integer)" (line 1, column 7)',
  );
  assert.equal(
    e.details,
    'unexpected "(" expecting "-", digit or any non reserved character different from: .,>()',
  );
});

// ---------------------------------------------------------------- filters

Deno.test("parseFilter() reads every simple operator", () => {
  const ops = [
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "like",
    "ilike",
    "match",
    "imatch",
    "cs",
    "cd",
    "ov",
    "sl",
    "sr",
    "nxr",
    "nxl",
    "adj",
    "isdistinct",
  ] as const;
  for (const op of ops) {
    assert.deepEqual(
      parseFilter(ID, `${op}.v`),
      filter(ID, { kind: "op", op, value: "v" }),
      op,
    );
  }
});

Deno.test("parseFilter() keeps the value verbatim, dots and all", () => {
  assert.deepEqual(
    parseFilter(ID, "eq.a.b"),
    filter(ID, { kind: "op", op: "eq", value: "a.b" }),
  );
  assert.deepEqual(
    parseFilter(ID, "eq."),
    filter(ID, { kind: "op", op: "eq", value: "" }),
  );
  assert.deepEqual(
    parseFilter(ID, "like.a*"),
    filter(ID, { kind: "op", op: "like", value: "a*" }),
  );
  assert.deepEqual(
    parseFilter(ID, "cs.{1,2}"),
    filter(ID, { kind: "op", op: "cs", value: "{1,2}" }),
  );
  assert.deepEqual(
    parseFilter(ID, "adj.[1,5)"),
    filter(ID, { kind: "op", op: "adj", value: "[1,5)" }),
  );
  assert.deepEqual(
    parseFilter(ID, "eq.'; drop table x; --"),
    filter(ID, { kind: "op", op: "eq", value: "'; drop table x; --" }),
  );
});

Deno.test("parseFilter() reads not. as negation", () => {
  assert.deepEqual(
    parseFilter(ID, "not.eq.1"),
    filter(ID, { kind: "op", op: "eq", value: "1" }, true),
  );
  assert.deepEqual(
    parseFilter(ID, "not.in.(1)"),
    filter(ID, { kind: "in", values: ["1"] }, true),
  );
  assert.deepEqual(
    parseFilter(ID, "not.is.null"),
    filter(ID, { kind: "is", value: "null" }, true),
  );
});

Deno.test("parseFilter() reads in lists with quoted values", () => {
  assert.deepEqual(
    parseFilter(ID, "in.(1,2,3)"),
    filter(ID, { kind: "in", values: ["1", "2", "3"] }),
  );
  assert.deepEqual(
    parseFilter(ID, 'in.("a,b","c\\"d",e)'),
    filter(ID, { kind: "in", values: ["a,b", 'c"d', "e"] }),
  );
  assert.deepEqual(
    parseFilter(ID, 'in.("a\\\\b","x)y"," sp ")'),
    filter(ID, { kind: "in", values: ["a\\b", "x)y", " sp "] }),
  );
});

Deno.test("parseFilter() skips blanks after the in list's parenthesis, not before later values", () => {
  assert.deepEqual(
    parseFilter(ID, "in.( ,3,4)"),
    filter(ID, { kind: "in", values: ["", "3", "4"] }),
  );
  assert.deepEqual(
    parseFilter(ID, "in.(\t1, 2)"),
    filter(ID, { kind: "in", values: ["1", " 2"] }),
  );
});

Deno.test("parseFilter() reads an empty in list as one empty value", () => {
  assert.deepEqual(
    parseFilter(ID, "in.()"),
    filter(ID, { kind: "in", values: [""] }),
  );
});

Deno.test("parseFilter() rejects an unclosed in list", () => {
  const e = parseFailure(() => parseFilter(ID, "in.(1"));
  assert.equal(
    e.message,
    '"failed to parse filter (in.(1)" (line 1, column 6)',
  );
});

Deno.test("parseFilter() reads is values in any case", () => {
  const cases = [
    ["null", "null"],
    ["NULL", "null"],
    ["not_null", "not_null"],
    ["NoT_NuLl", "not_null"],
    ["true", "true"],
    ["TRUE", "true"],
    ["false", "false"],
    ["FAlSe", "false"],
    ["unknown", "unknown"],
    ["UnKnOwN", "unknown"],
  ] as const;
  for (const [text, value] of cases) {
    assert.deepEqual(
      parseFilter(ID, `is.${text}`),
      filter(ID, { kind: "is", value }),
      text,
    );
  }
});

Deno.test("parseFilter() rejects other is values", () => {
  for (const v of ["nil", "ok", "maybe", ""]) {
    const e = parseFailure(() => parseFilter(ID, `is.${v}`));
    assert.equal(
      e.message,
      `"failed to parse filter (is.${v})" (line 1, column 4)`,
    );
  }
});

Deno.test("parseFilter() reads fts operators with and without language", () => {
  for (const op of ["fts", "plfts", "phfts", "wfts"] as const) {
    assert.deepEqual(
      parseFilter(ID, `${op}.The Fat Cats`),
      filter(ID, { kind: "fts", op, language: null, value: "The Fat Cats" }),
    );
    assert.deepEqual(
      parseFilter(ID, `${op}(french).amusant`),
      filter(ID, { kind: "fts", op, language: "french", value: "amusant" }),
    );
  }
  assert.deepEqual(
    parseFilter(ID, "not.phfts(english).a b"),
    filter(
      ID,
      { kind: "fts", op: "phfts", language: "english", value: "a b" },
      true,
    ),
  );
});

Deno.test("parseFilter() reads eq(any) and like(all) quantifiers", () => {
  assert.deepEqual(
    parseFilter(ID, "eq(any).{1,2}"),
    filter(ID, { kind: "quant", op: "eq", quantifier: "any", value: "{1,2}" }),
  );
  assert.deepEqual(
    parseFilter(ID, "like(all).{a*,b*}"),
    filter(ID, {
      kind: "quant",
      op: "like",
      quantifier: "all",
      value: "{a*,b*}",
    }),
  );
  for (
    const op of [
      "eq",
      "gt",
      "gte",
      "lt",
      "lte",
      "like",
      "ilike",
      "match",
      "imatch",
    ] as const
  ) {
    assert.deepEqual(
      parseFilter(ID, `not.${op}(any).{x}`),
      filter(ID, { kind: "quant", op, quantifier: "any", value: "{x}" }, true),
      op,
    );
  }
});

Deno.test("parseFilter() rejects quantifiers on other operators", () => {
  parseFailure(() => parseFilter(ID, "neq(any).{1}"));
  parseFailure(() => parseFilter(ID, "cs(all).{1}"));
  parseFailure(() => parseFilter(ID, "eq(some).{1}"));
});

Deno.test("parseFilter() rejects a value without an operator", () => {
  // QuerySpec: "fails if an operator is not given"
  const e = parseFailure(() => parseFilter(ID, "0"));
  assert.equal(e.message, '"failed to parse filter (0)" (line 1, column 1)');
  assert.equal(
    e.details,
    'unexpected "0" expecting "not" or operator (eq, gt, ...)',
  );
  parseFailure(() => parseFilter(ID, "noop.0"));
  parseFailure(() => parseFilter(ID, "eq"));
});

Deno.test("parseQueryParams() reports a filter without operator: id=0", () => {
  const e = parseFailure(() => qp("id=0"));
  assert.equal(e.message, '"failed to parse filter (0)" (line 1, column 1)');
  assert.equal(
    e.details,
    'unexpected "0" expecting "not" or operator (eq, gt, ...)',
  );
  assert.deepEqual(e.body(), {
    code: "PGRST100",
    details: 'unexpected "0" expecting "not" or operator (eq, gt, ...)',
    hint: null,
    message: '"failed to parse filter (0)" (line 1, column 1)',
  });
});

Deno.test("parseQueryParams() reads filter keys with embed and JSON paths", () => {
  const p = qp("a.b=eq.1&x.y.z=gt.2&data->a->>b=eq.3&data->0=is.null");
  assert.deepEqual(p.filters, [
    {
      path: ["a"],
      filter: filter(f("b"), { kind: "op", op: "eq", value: "1" }),
    },
    {
      path: ["x", "y"],
      filter: filter(f("z"), { kind: "op", op: "gt", value: "2" }),
    },
    {
      path: [],
      filter: filter(f("data", arrow("a"), arrow2("b")), {
        kind: "op",
        op: "eq",
        value: "3",
      }),
    },
    {
      path: [],
      filter: filter(f("data", arrow(0)), { kind: "is", value: "null" }),
    },
  ]);
});

Deno.test("parseQueryParams() reads a quoted filter key with a quote in it", () => {
  assert.deepEqual(qp('"quote\\"d"=is.null').filters, [
    { path: [], filter: filter(f('quote"d'), { kind: "is", value: "null" }) },
  ]);
});

Deno.test("parseQueryParams() keeps repeated filters on one column", () => {
  assert.deepEqual(qp("id=gt.1&id=lt.5").filters, [
    { path: [], filter: filter(ID, { kind: "op", op: "gt", value: "1" }) },
    { path: [], filter: filter(ID, { kind: "op", op: "lt", value: "5" }) },
  ]);
});

// ---------------------------------------------------------------- logic

Deno.test("parseLogic() reads an or of filters", () => {
  assert.deepEqual(parseLogic(false, "or", "(id.eq.1,name.eq.a)"), {
    kind: "expr",
    negated: false,
    op: "or",
    children: [
      leaf(ID, { kind: "op", op: "eq", value: "1" }),
      leaf(f("name"), { kind: "op", op: "eq", value: "a" }),
    ],
  });
});

Deno.test("parseLogic() reads nested trees and not.and(...)", () => {
  assert.deepEqual(
    parseLogic(false, "or", "(a.eq.1,not.and(b.eq.2,or(c.eq.3,c.is.null)))"),
    {
      kind: "expr",
      negated: false,
      op: "or",
      children: [
        leaf(f("a"), { kind: "op", op: "eq", value: "1" }),
        {
          kind: "expr",
          negated: true,
          op: "and",
          children: [
            leaf(f("b"), { kind: "op", op: "eq", value: "2" }),
            {
              kind: "expr",
              negated: false,
              op: "or",
              children: [
                leaf(f("c"), { kind: "op", op: "eq", value: "3" }),
                leaf(f("c"), { kind: "is", value: "null" }),
              ],
            },
          ],
        },
      ],
    },
  );
});

Deno.test("parseLogic() reads negated filters, lists, arrays and quotes", () => {
  const tree = parseLogic(
    true,
    "and",
    '(id.not.in.(1,2),tags.cs.{a,b},name.eq."a,b",name.like(any).{a*,b*},data->>k.eq.v)',
  );
  assert.deepEqual(tree, {
    kind: "expr",
    negated: true,
    op: "and",
    children: [
      leaf(ID, { kind: "in", values: ["1", "2"] }, true),
      leaf(f("tags"), { kind: "op", op: "cs", value: "{a,b}" }),
      leaf(f("name"), { kind: "op", op: "eq", value: "a,b" }),
      leaf(f("name"), {
        kind: "quant",
        op: "like",
        quantifier: "any",
        value: "{a*,b*}",
      }),
      leaf(f("data", arrow2("k")), { kind: "op", op: "eq", value: "v" }),
    ],
  });
});

Deno.test("parseLogic() reads fts with a language inside a tree", () => {
  assert.deepEqual(
    parseLogic(false, "or", "(t.phfts(german).Art Spass,t.fts.x)"),
    {
      kind: "expr",
      negated: false,
      op: "or",
      children: [
        leaf(f("t"), {
          kind: "fts",
          op: "phfts",
          language: "german",
          value: "Art Spass",
        }),
        leaf(f("t"), { kind: "fts", op: "fts", language: null, value: "x" }),
      ],
    },
  );
});

Deno.test("parseQueryParams() reads or, and, not.and and embedded trees", () => {
  const p = qp(
    "or=(a.eq.1,b.eq.2)&not.and=(a.gte.1,a.lte.5)&rel.or=(c.eq.3)&rel.not.and=(d.eq.4)",
  );
  assert.deepEqual(p.logic.map((l) => [l.path, l.tree.kind, l.tree]), [
    [[], "expr", {
      kind: "expr",
      negated: false,
      op: "or",
      children: [
        leaf(f("a"), { kind: "op", op: "eq", value: "1" }),
        leaf(f("b"), { kind: "op", op: "eq", value: "2" }),
      ],
    }],
    [[], "expr", {
      kind: "expr",
      negated: true,
      op: "and",
      children: [
        leaf(f("a"), { kind: "op", op: "gte", value: "1" }),
        leaf(f("a"), { kind: "op", op: "lte", value: "5" }),
      ],
    }],
    [["rel"], "expr", {
      kind: "expr",
      negated: false,
      op: "or",
      children: [leaf(f("c"), { kind: "op", op: "eq", value: "3" })],
    }],
    [["rel"], "expr", {
      kind: "expr",
      negated: true,
      op: "and",
      children: [leaf(f("d"), { kind: "op", op: "eq", value: "4" })],
    }],
  ]);
});

Deno.test("parseQueryParams() reports an empty logic tree: or=() (code and details)", () => {
  const e = parseFailure(() => qp("or=()"));
  assert.equal(
    e.details,
    'unexpected ")" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)',
  );
  assert.match(e.message, /^"failed to parse logic tree \(\(\)\)" \(line 1,/);
});

Deno.test({
  name:
    "parseQueryParams() reports an empty logic tree at PostgREST's column: or=() is column 4",
  // the column counts from `or` + value, as PostgREST's pRequestLogicTree
  // (AndOrParamsSpec "multiple and/or": `/entities?or=()` → column 4)
  fn() {
    const e = parseFailure(() => qp("or=()"));
    assert.equal(
      e.message,
      '"failed to parse logic tree (())" (line 1, column 4)',
    );
    assert.equal(
      e.details,
      'unexpected ")" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)',
    );
    // PostgREST doctest: or(id.in.1,2,id.eq.3) fails at column 10
    const list = parseFailure(() => qp("or=(id.in.1,2,id.eq.3)"));
    assert.equal(
      list.message,
      '"failed to parse logic tree ((id.in.1,2,id.eq.3))" (line 1, column 10)',
    );
    assert.equal(list.details, 'unexpected "1" expecting "("');
  },
});

Deno.test("parseLogic() rejects malformed trees with PGRST100", () => {
  parseFailure(() => parseLogic(false, "or", ")("));
  parseFailure(() => parseLogic(false, "or", "(id.in.1,2,id.eq.3)"));
  parseFailure(() =>
    parseLogic(false, "and", "(ord(id.eq.1,id.eq.1),id.eq.2)")
  );
  parseFailure(() => parseLogic(false, "or", "(id.eq.1,not.xor(id.eq.2))"));
  parseFailure(() => parseLogic(false, "or", "(id.eq.1"));
  parseFailure(() => parseLogic(false, "or", "id.eq.1"));
});

// ---------------------------------------------------------------- order

Deno.test("parseOrder() reads directions and nulls placement", () => {
  const term = (
    name: string,
    direction: "asc" | "desc" | null,
    nulls: "first" | "last" | null,
  ) => ({ kind: "field", field: f(name), direction, nulls });
  assert.deepEqual(parseOrder("id"), [term("id", null, null)]);
  assert.deepEqual(parseOrder("id.asc"), [term("id", "asc", null)]);
  assert.deepEqual(parseOrder("id.desc"), [term("id", "desc", null)]);
  assert.deepEqual(parseOrder("id.nullsfirst"), [term("id", null, "first")]);
  assert.deepEqual(parseOrder("id.desc.nullslast"), [
    term("id", "desc", "last"),
  ]);
  assert.deepEqual(parseOrder("a.asc.nullsfirst,b.desc,c"), [
    term("a", "asc", "first"),
    term("b", "desc", null),
    term("c", null, null),
  ]);
});

Deno.test("parseOrder() reads JSON paths and to-one relation terms", () => {
  assert.deepEqual(parseOrder("data->a.desc,data->>b.asc.nullslast"), [
    {
      kind: "field",
      field: f("data", arrow("a")),
      direction: "desc",
      nulls: null,
    },
    {
      kind: "field",
      field: f("data", arrow2("b")),
      direction: "asc",
      nulls: "last",
    },
  ]);
  assert.deepEqual(parseOrder("data->0.desc"), [
    {
      kind: "field",
      field: f("data", arrow(0)),
      direction: "desc",
      nulls: null,
    },
  ]);
  assert.deepEqual(parseOrder("authors(name).desc.nullsfirst"), [
    {
      kind: "relation",
      relation: "authors",
      field: f("name"),
      direction: "desc",
      nulls: "first",
    },
  ]);
});

Deno.test("parseOrder() rejects misspelled modifiers with PGRST100", () => {
  for (
    const bad of [
      "id.ac",
      "id.descc",
      "id.nulsfist",
      "id.nullslasttt",
      "id.asc.nlsfst",
      "id.asc.smth34",
      "clients(name,id)",
    ]
  ) {
    const e = parseFailure(() => parseOrder(bad));
    assert.ok(
      e.message.startsWith(`"failed to parse order (${bad})" (line 1, column `),
      e.message,
    );
  }
});

Deno.test("parseQueryParams() reads order per embed path", () => {
  assert.deepEqual(qp("order=id.desc&authors.order=name.asc.nullslast").order, [
    {
      path: [],
      terms: [{ kind: "field", field: ID, direction: "desc", nulls: null }],
    },
    {
      path: ["authors"],
      terms: [{
        kind: "field",
        field: f("name"),
        direction: "asc",
        nulls: "last",
      }],
    },
  ]);
});

// ---------------------------------------------------------------- ranges

Deno.test("parseQueryParams() reads limit and offset at the top level", () => {
  assert.deepEqual([...qp("limit=10&offset=5").ranges], [
    ["", { offset: 5, limit: 10 }],
  ]);
  assert.deepEqual([...qp("offset=3").ranges], [
    ["", { offset: 3, limit: null }],
  ]);
  assert.deepEqual([...qp("limit=0").ranges], [["", { offset: 0, limit: 0 }]]);
  assert.deepEqual([...qp("").ranges], []);
});

Deno.test("parseQueryParams() reads rel.limit and rel.offset per embed", () => {
  const ranges = qp("rel.limit=2&rel.offset=1&a.b.limit=3&limit=4").ranges;
  assert.deepEqual(ranges.get("rel"), { offset: 1, limit: 2 });
  assert.deepEqual(ranges.get("a\u0000b"), { offset: 0, limit: 3 });
  assert.deepEqual(ranges.get(""), { offset: 0, limit: 4 });
  assert.equal(ranges.size, 3);
});

Deno.test("parseQueryParams() keeps a negative limit for the range check", () => {
  // parseApiRequest turns it into PGRST103 (see api_request_test.ts)
  assert.deepEqual(qp("limit=-1").ranges.get(""), { offset: 0, limit: -1 });
});

// ---------------------------------------------------------------- other keys

Deno.test("parseQueryParams() defaults select to * and reads columns and on_conflict", () => {
  const p = qp("columns=a,b&on_conflict=id");
  assert.deepEqual(p.select, [STAR]);
  assert.deepEqual(p.columns, ["a", "b"]);
  assert.deepEqual(p.onConflict, ["id"]);
  assert.deepEqual(p.filters, []);
  assert.deepEqual(p.rpcArgs, []);
  assert.equal(qp("").columns, null);
  assert.equal(qp("").onConflict, null);
});

Deno.test("parseColumnList() rejects a blank list like PostgREST", () => {
  // InsertSpec: "disallows blank ?columns"
  const e = parseFailure(() => parseColumnList("columns parameter", ""));
  assert.equal(
    e.message,
    '"failed to parse columns parameter ()" (line 1, column 1)',
  );
  assert.equal(
    e.details,
    "unexpected end of input expecting field name (* or [a..z0..9_$])",
  );
});

Deno.test("parseQueryParams() keeps unreserved parameters as RPC arguments", () => {
  const p = qp("a=1&b=eq.2&select=x&order=x&limit=1", true);
  assert.deepEqual(p.rpcArgs, [["a", "1"], ["b", "eq.2"]]);
  assert.deepEqual(p.filters, []);
  assert.deepEqual(p.select, [col("x")]);
  const named = parseQueryParams(new URLSearchParams("a=1&b=eq.2"), {
    isRpc: true,
    rpcParamNames: new Set(["a"]),
  });
  assert.deepEqual(named.rpcArgs, [["a", "1"]]);
  assert.deepEqual(named.filters, [
    { path: [], filter: filter(f("b"), { kind: "op", op: "eq", value: "2" }) },
  ]);
});

Deno.test("parseQueryParams() reports the select parameter's errors", () => {
  const e = parseFailure(() => qp("select=id,"));
  assert.equal(
    e.message,
    '"failed to parse select parameter (id,)" (line 1, column 4)',
  );
});

// ---------------------------------------------------------------- hostile input (found by tests/security/fuzz_test.ts)

Deno.test('an empty name ("" or spaces) fails to parse in every name position', () => {
  for (
    const search of [
      'select=""',
      "select=id,%20",
      'select="":id',
      'select=id,""(*)',
      'select=rel!""(*)',
      'order=""',
      "order=%20",
      "order=id,%20.desc",
      'columns=id,""',
      'on_conflict=""',
      '""=eq.1',
      '"".id=eq.1',
      'or=("".eq.1)',
    ]
  ) {
    parseFailure(() => qp(search));
  }
  // a quoted name with content is still fine
  assert.deepEqual(qp('select=" a "').select, [col(" a ")]);
});

Deno.test("a NUL byte in a parameter's name or value fails to parse", () => {
  for (
    const search of [
      "select=id%00,name",
      "select=id&na%00me=eq.1",
      "name=eq.a%00b",
      "id=in.(1,%00)",
      "or=(id.eq.1%00)",
      "order=id%00.desc",
      "limit=1%00",
      "%00=1",
    ]
  ) {
    const e = parseFailure(() => qp(search));
    assert.match(String(e.details), /NUL/);
  }
  parseFailure(() => qp("a=%00", true)); // RPC arguments too
});

Deno.test("searchParams() lists what URLSearchParams lists, for plain and escaped query strings", () => {
  const alphabet = [
    "a",
    "b",
    "=",
    "&",
    "?",
    ".",
    "(",
    ",",
    "%20",
    "+",
    "é",
    "%",
    "*",
  ];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  const cases = [
    "",
    "?",
    "??a=1",
    "a",
    "a=",
    "=b",
    "&&",
    "a=b=c",
    "a&b",
    "?a=1&b",
  ];
  for (let i = 0; i < 2000; i++) {
    let s = "";
    const n = next() % 10;
    for (let j = 0; j < n; j++) s += alphabet[next() % alphabet.length];
    cases.push(s);
  }
  for (const s of cases) {
    assert.deepEqual(
      [...searchParams(s)],
      [...new URLSearchParams(s)],
      JSON.stringify(s),
    );
  }
});
