/**
 * Tests of the parsing cursor: positions count code points, whether or not
 * the text has characters beyond the BMP (read in place or split), and
 * parse errors give the column in code points.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Cursor, isFieldChar, parseFieldName, runParser } from "./cursor.ts";
import { PgrstError } from "../error.ts";

Deno.test("a cursor reads plain text by code point, in place", () => {
  const c = new Cursor("ab.c");
  assert.equal(c.length, 4);
  assert.equal(c.peek(), "a");
  assert.equal(c.peek(3), "c");
  assert.equal(c.peek(4), "");
  assert.equal(c.at(-1), "");
  assert.ok(c.startsWith("ab."));
  assert.ok(c.eat("ab"));
  assert.equal(c.rest(), ".c");
  assert.equal(c.slice(1, 3), "b.");
  assert.equal(c.slice(3, 1), "");
  assert.equal(c.slice(-5, 99), "ab.c");
  c.pos = 4;
  assert.ok(c.done);
  assert.equal(c.rest(), "");
});

Deno.test("a cursor over text beyond the BMP counts code points, not UTF-16 units", () => {
  const c = new Cursor("a😀b.é");
  assert.equal(c.length, 5);
  assert.equal(c.peek(1), "😀");
  assert.equal(c.peek(2), "b");
  c.pos = 2;
  assert.equal(c.rest(), "b.é");
  assert.equal(c.slice(0, 2), "a😀");
  assert.ok(c.startsWith("b."));
  // a lone surrogate is one code point
  const lone = new Cursor("x\uD800y");
  assert.equal(lone.length, 3);
  assert.equal(lone.peek(2), "y");
});

Deno.test("field names read the same with and without astral characters", () => {
  const name = (s: string) => runParser("x", s, (c) => parseFieldName(c));
  assert.equal(name("first name"), "first name");
  assert.equal(name("a-b"), "a-b");
  assert.equal(name("ça_va$1"), "ça_va$1");
  assert.equal(name('"😀 q"'), "😀 q");
  for (const ch of ["a", "Z", "0", "_", " ", "$", "é", "ж"]) {
    assert.ok(isFieldChar(ch), ch);
  }
  for (const ch of ["", "-", ".", ",", "(", "\u0000", "😀", ">"]) {
    assert.ok(!isFieldChar(ch), JSON.stringify(ch));
  }
});

Deno.test("a parse error's column counts code points", () => {
  const fail = (s: string): string => {
    try {
      runParser("x", s, (c) => {
        while (isFieldChar(c.peek()) || c.peek() === "😀") c.pos++;
        c.fail("end");
      });
    } catch (e) {
      assert.ok(e instanceof PgrstError);
      return e.message;
    }
    throw new Error("no failure");
  };
  assert.match(fail("ab."), /column 3\)$/);
  assert.match(fail("😀b."), /column 3\)$/);
});
