/**
 * Tests for `parsePreferences`: every `Prefer` value PostgREST understands,
 * several headers and comma lists, first occurrence wins, and the tokens
 * kept aside for `handling=strict`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parsePreferences } from "./preferences.ts";
import type { Preferences } from "./types.ts";

const NONE: Preferences = {
  count: null,
  return: null,
  resolution: null,
  missing: null,
  handling: null,
  tx: null,
  timezone: null,
  maxAffected: null,
  invalid: [],
};

Deno.test("parsePreferences() without headers prefers nothing", () => {
  assert.deepEqual(parsePreferences([]), NONE);
  assert.deepEqual(parsePreferences([""]), NONE);
  assert.deepEqual(parsePreferences([" , "]), NONE);
});

Deno.test("parsePreferences() reads count=exact|planned|estimated", () => {
  for (const v of ["exact", "planned", "estimated"] as const) {
    assert.deepEqual(parsePreferences([`count=${v}`]), { ...NONE, count: v });
  }
});

Deno.test("parsePreferences() reads return, resolution, missing, handling and tx", () => {
  assert.deepEqual(
    parsePreferences([
      "return=representation, resolution=merge-duplicates, missing=default",
      "handling=strict, tx=rollback",
    ]),
    {
      ...NONE,
      return: "representation",
      resolution: "merge-duplicates",
      missing: "default",
      handling: "strict",
      tx: "rollback",
    },
  );
  assert.equal(parsePreferences(["return=minimal"]).return, "minimal");
  assert.equal(
    parsePreferences(["return=headers-only"]).return,
    "headers-only",
  );
  assert.equal(
    parsePreferences(["resolution=ignore-duplicates"]).resolution,
    "ignore-duplicates",
  );
  assert.equal(parsePreferences(["missing=null"]).missing, "null");
  assert.equal(parsePreferences(["handling=lenient"]).handling, "lenient");
  assert.equal(parsePreferences(["tx=commit"]).tx, "commit");
});

Deno.test("parsePreferences() reads timezone names and offsets verbatim", () => {
  assert.equal(
    parsePreferences(["timezone=America/Los_Angeles"]).timezone,
    "America/Los_Angeles",
  );
  assert.equal(parsePreferences(["timezone=+05:30"]).timezone, "+05:30");
  assert.equal(parsePreferences(["timezone=-4"]).timezone, "-4");
});

Deno.test("parsePreferences() reads max-affected as a number", () => {
  assert.equal(parsePreferences(["max-affected=5"]).maxAffected, 5);
  assert.equal(parsePreferences(["max-affected=0"]).maxAffected, 0);
  assert.deepEqual(parsePreferences(["max-affected=-1"]).invalid, [
    "max-affected=-1",
  ]);
  assert.deepEqual(parsePreferences(["max-affected=x"]).invalid, [
    "max-affected=x",
  ]);
});

Deno.test("parsePreferences() trims spaces around tokens, keys and values", () => {
  assert.deepEqual(
    parsePreferences(["  count = exact ,return=minimal  "]),
    { ...NONE, count: "exact", return: "minimal" },
  );
});

Deno.test("parsePreferences() lets the first occurrence win, across headers", () => {
  const p = parsePreferences([
    "count=planned, return=minimal",
    "count=exact, return=representation, tx=rollback",
    "tx=commit",
  ]);
  assert.equal(p.count, "planned");
  assert.equal(p.return, "minimal");
  assert.equal(p.tx, "rollback");
});

Deno.test("parsePreferences() keeps unknown and invalid tokens for handling=strict", () => {
  const p = parsePreferences([
    "handling=strict, foo, count=none, return=everything, timezone=, tx=maybe",
  ]);
  assert.equal(p.handling, "strict");
  assert.equal(p.count, null);
  assert.equal(p.return, null);
  assert.equal(p.timezone, null);
  assert.equal(p.tx, null);
  assert.deepEqual(p.invalid, [
    "foo",
    "count=none",
    "return=everything",
    "timezone=",
    "tx=maybe",
  ]);
});

Deno.test("parsePreferences() is case-sensitive in keys and values", () => {
  const p = parsePreferences(["Count=exact, count=EXACT"]);
  assert.equal(p.count, null);
  assert.deepEqual(p.invalid, ["Count=exact", "count=EXACT"]);
});

Deno.test("parsePreferences() does not understand params=single-object, which PostgREST 13 removed", () => {
  assert.deepEqual(parsePreferences(["params=single-object"]), {
    ...NONE,
    invalid: ["params=single-object"],
  });
});
