/**
 * Tests for hostile nesting in the query-string grammars, found by the
 * mixed-load benchmark (bench/security_load.ts): `and`/`or` trees and
 * `select` embeds nested thousands of levels deep within the URL limit are a
 * 400 PGRST100 (they overflowed the JavaScript stack: a 500), up to
 * `MAX_NESTING` levels still parse, and parsing a deep tree takes time
 * linear in its length (each level copied the rest of the input).
 *
 * @module
 */

import assert from "node:assert/strict";
import { PgrstError } from "../error.ts";
import { Cursor } from "./cursor.ts";
import { MAX_NESTING, parseLogic, parseSelect } from "./query_params.ts";
import type { LogicTree, SelectItem } from "./types.ts";

/** `(and(or(and(…id.eq.1…))))`: `levels` nested trees inside `or=(…)`. */
function logicText(levels: number): string {
  let s = "id.eq.1";
  for (let i = 0; i < levels; i++) s = `${i % 2 ? "or" : "and"}(${s})`;
  return `(${s})`;
}

/** `a(a(…(id)…))`: `levels` nested embeds. */
function selectText(levels: number): string {
  return `${"a(".repeat(levels)}id${")".repeat(levels)}`;
}

function logicDepth(t: LogicTree): number {
  return t.kind === "filter" ? 0 : 1 + Math.max(...t.children.map(logicDepth));
}

function selectDepth(items: readonly SelectItem[]): number {
  let deepest = 0;
  for (const it of items) {
    if (it.kind === "embed") {
      deepest = Math.max(deepest, 1 + selectDepth(it.select));
    }
  }
  return deepest;
}

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

Deno.test("a logic tree of 3,200 nested levels is 400 PGRST100, not a stack overflow", () => {
  const err = parseFailure(() => parseLogic(false, "or", logicText(3200)));
  assert.match(
    String(err.details),
    new RegExp(`expecting at most ${MAX_NESTING} levels of nesting`),
  );
});

Deno.test("a logic tree of 100,000 nested levels is 400 PGRST100", () => {
  parseFailure(() => parseLogic(false, "or", logicText(100_000)));
});

Deno.test("a logic tree nested MAX_NESTING levels deep still parses", () => {
  // parseLogic's own (…) is the first level
  const tree = parseLogic(false, "or", logicText(MAX_NESTING - 1));
  assert.equal(logicDepth(tree), MAX_NESTING);
  parseFailure(() => parseLogic(false, "or", logicText(MAX_NESTING)));
});

Deno.test("negated and spaced logic trees count towards the nesting cap", () => {
  const deep = `(${"not.and( ".repeat(MAX_NESTING)}id.eq.1${
    ")".repeat(MAX_NESTING)
  })`;
  parseFailure(() => parseLogic(false, "and", deep));
});

Deno.test("a select of 5,000 nested embeds is 400 PGRST100, not a stack overflow", () => {
  const err = parseFailure(() => parseSelect(selectText(5000)));
  assert.match(String(err.details), /at most \d+ levels of nesting/);
});

Deno.test("a select nested MAX_NESTING embeds deep still parses", () => {
  assert.equal(
    selectDepth(parseSelect(selectText(MAX_NESTING))),
    MAX_NESTING,
  );
  parseFailure(() => parseSelect(selectText(MAX_NESTING + 1)));
});

Deno.test("a deep logic tree near the URL limit parses in linear time", () => {
  // 16 KB of nesting that fails at the cap, and a long flat tree that
  // parses: each took hundreds of milliseconds when every level copied the
  // rest of the input
  const flat = `(${Array.from({ length: 1500 }, () => "id.eq.1").join(",")})`;
  const t0 = performance.now();
  parseFailure(() => parseLogic(false, "or", logicText(3200)));
  const tree = parseLogic(false, "or", flat);
  const ms = performance.now() - t0;
  assert.equal(tree.kind === "expr" ? tree.children.length : 0, 1500);
  assert.ok(ms < 200, `parsing took ${ms.toFixed(1)} ms`);
});

Deno.test("Cursor.rest() is the input from the position on, by code point", () => {
  const c = new Cursor("a😀b,é");
  assert.equal(c.rest(), "a😀b,é");
  c.pos = 1;
  assert.equal(c.rest(), "😀b,é");
  c.pos = 2;
  assert.equal(c.rest(), "b,é");
  c.pos = 5;
  assert.equal(c.rest(), "");
  c.pos = 9;
  assert.equal(c.rest(), "");
});
