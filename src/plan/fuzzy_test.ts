/**
 * Tests for the "Perhaps you meant" matcher: `levenshtein` and
 * `closestMatch`, with the cases of PostgREST's ErrorSpec (PGRST205 hints).
 *
 * @module
 */

import assert from "node:assert/strict";
import { closestMatch, levenshtein } from "./fuzzy.ts";

const TABLES = [
  "projects",
  "clients",
  "tasks",
  "items",
  "users",
  "entities",
  "projects_view",
  "articles",
  "authors_only",
];

Deno.test("levenshtein() counts insertions, deletions and substitutions", () => {
  assert.equal(levenshtein("", ""), 0);
  assert.equal(levenshtein("abc", "abc"), 0);
  assert.equal(levenshtein("", "abc"), 3);
  assert.equal(levenshtein("abc", ""), 3);
  assert.equal(levenshtein("kitten", "sitting"), 3);
  assert.equal(levenshtein("flaw", "lawn"), 2);
  assert.equal(levenshtein("items", "itemz"), 1);
});

Deno.test("levenshtein() is symmetric", () => {
  assert.equal(
    levenshtein("projects", "projxxxx"),
    levenshtein("projxxxx", "projects"),
  );
});

Deno.test("levenshtein() counts code points, not UTF-16 units", () => {
  assert.equal(levenshtein("café", "cafe"), 1);
  assert.equal(levenshtein("🔥", "🍮"), 1);
  assert.equal(levenshtein("a🔥b", "ab"), 1);
});

Deno.test("closestMatch() returns an exact match as is", () => {
  assert.equal(closestMatch("items", TABLES), "items");
});

Deno.test("closestMatch() suggests the table a typo was meant for", () => {
  // ErrorSpec: "show hint on PGRST205 table not found error"
  assert.equal(closestMatch("projectx", TABLES), "projects");
  assert.equal(closestMatch("projecxx", TABLES), "projects");
  assert.equal(closestMatch("itemz", TABLES), "items");
  assert.equal(closestMatch("itemsx", TABLES), "items");
  assert.equal(
    closestMatch("itemz", ["items", "authors", "books", "cheap_items"]),
    "items",
  );
});

Deno.test("closestMatch() ignores case", () => {
  assert.equal(closestMatch("ITEMS", TABLES), "items");
  assert.equal(closestMatch("Projects", TABLES), "projects");
});

Deno.test("closestMatch() suggests nothing when no name is close", () => {
  // ErrorSpec: `/projxxxx` has no hint
  assert.equal(closestMatch("projxxxx", TABLES), null);
  assert.equal(closestMatch("zzz", TABLES), null);
  assert.equal(closestMatch("nonexistent_table", TABLES), null);
});

Deno.test("closestMatch() suggests nothing without candidates", () => {
  assert.equal(closestMatch("items", []), null);
  assert.equal(closestMatch("", []), null);
});
