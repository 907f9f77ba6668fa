/**
 * Tests of reading view column origins from stored query trees.
 *
 * @module
 */
import assert from "node:assert/strict";
import { viewColumnSources } from "./view_columns.ts";

const SIMPLE =
  `({QUERY :commandType 1 :rtable ({RANGETBLENTRY :eref {ALIAS :aliasname projects :colnames ("id" "name")} :relid 50729}) :targetList ({TARGETENTRY :expr {VAR :varno 3 :varattno 1} :resno 1 :resname id :ressortgroupref 0 :resorigtbl 50729 :resorigcol 1 :resjunk false} {TARGETENTRY :expr {VAR :varno 3 :varattno 2} :resno 2 :resname t\\ name :ressortgroupref 0 :resorigtbl 50729 :resorigcol 2 :resjunk false}) :override 0})`;

Deno.test("viewColumnSources() reads the top-level target list with escaped names", () => {
  assert.deepEqual(viewColumnSources(SIMPLE), [
    { name: "id", relation: 50729, attnum: 1 },
    { name: "t name", relation: 50729, attnum: 2 },
  ]);
});

Deno.test("viewColumnSources() ignores target lists of nested subqueries", () => {
  const nested =
    `({QUERY :targetList ({TARGETENTRY :expr {SUBLINK :subselect {QUERY :targetList ({TARGETENTRY :expr {VAR} :resno 1 :resname inner :resorigtbl 7 :resorigcol 9 :resjunk false})}} :resno 1 :resname computed :ressortgroupref 0 :resorigtbl 0 :resorigcol 0 :resjunk false}) :override 0})`;
  assert.deepEqual(viewColumnSources(nested), [
    { name: "computed", relation: 0, attnum: 0 },
  ]);
});

Deno.test("viewColumnSources() gives nothing for unexpected text", () => {
  assert.deepEqual(viewColumnSources("not a node"), []);
});
