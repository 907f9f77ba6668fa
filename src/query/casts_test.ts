/**
 * Tests for cast type names: grammar-only type names stay bare, every other
 * name is quoted, so a keyword (found by tests/security/fuzz_test.ts:
 * `::select`) cannot become SQL syntax.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PgrstError } from "../error.ts";
import { castSql } from "./casts.ts";
import { render } from "./sql.ts";

function text(name: string): string {
  return render(castSql(name)).text;
}

Deno.test("castSql() keeps the grammar's type names bare, in lower case", () => {
  assert.equal(text("int"), "int");
  assert.equal(text("INTEGER"), "integer");
  assert.equal(text("double precision"), "double precision");
  assert.equal(text("timestamp with time zone"), "timestamp with time zone");
  assert.equal(text("int[]"), "int[]");
});

Deno.test("castSql() quotes every other name, folding ASCII to lower case", () => {
  assert.equal(text("text"), '"text"');
  assert.equal(text("JSONB"), '"jsonb"');
  assert.equal(text("_int4"), '"_int4"');
  assert.equal(text("mood[]"), '"mood"[]');
  assert.equal(text("Émotion"), '"Émotion"');
});

Deno.test("castSql() quotes keywords, so ::select is a missing type, not a syntax error", () => {
  assert.equal(text("select"), '"select"');
  assert.equal(text("from"), '"from"');
  assert.equal(text("user"), '"user"');
  assert.equal(text("int union select"), '"int union select"');
});

Deno.test("castSql() rejects names that are not type names with PGRST100", () => {
  for (const bad of ["text; drop table x", "int)", '"x"', "a--", ""]) {
    assert.throws(
      () => castSql(bad),
      (e: unknown) => e instanceof PgrstError && e.code === "PGRST100",
    );
  }
});
