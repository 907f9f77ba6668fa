import assert from "node:assert/strict";
import { render } from "../query/sql.ts";
import {
  accessQuery,
  isCallable,
  readAccess,
  visibleObjects,
} from "./access.ts";
import { arg, CACHE, routine } from "./testdata/cache.ts";

Deno.test("accessQuery() binds the schema and checks privileges", () => {
  const hostile = `x'; drop table t; --"`;
  const follow = render(accessQuery(hostile, true));
  assert.ok(!follow.text.includes(hostile));
  assert.deepEqual(follow.params, [hostile, hostile, hostile]);
  assert.match(follow.text, /has_table_privilege\(c\.oid/);
  assert.match(follow.text, /has_function_privilege\(p\.oid, 'execute'\)/);
  assert.match(follow.text, /n\.nspname = \$1/);
  const ignore = render(accessQuery("api", false));
  assert.deepEqual(ignore.params, ["api"]);
  assert.doesNotMatch(ignore.text, /privilege/);
  assert.match(ignore.text, /null::text as tables/);
});

Deno.test("readAccess() reads JSON text, arrays and nulls", () => {
  assert.deepEqual(
    readAccess({ description: "d", tables: '["a","b"]', routines: "[1,2]" }),
    {
      description: "d",
      tables: new Set(["a", "b"]),
      routines: new Set([1, 2]),
    },
  );
  assert.deepEqual(
    readAccess({ description: null, tables: ["a"], routines: null }),
    { description: null, tables: new Set(["a"]), routines: null },
  );
  assert.deepEqual(readAccess(undefined), {
    description: null,
    tables: new Set(),
    routines: new Set(),
  });
});

Deno.test("isCallable() excludes triggers and unnamed arguments", () => {
  assert.equal(isCallable(routine(1, "f", [])), true);
  assert.equal(isCallable(routine(1, "f", [arg("a", "int")])), true);
  assert.equal(isCallable(routine(1, "f", [arg("", "json")])), true);
  assert.equal(isCallable(routine(1, "f", [arg("", "integer")])), false);
  assert.equal(
    isCallable(routine(1, "f", [arg("", "text"), arg("", "text")])),
    false,
  );
  assert.equal(
    isCallable(routine(1, "f", [], { returnTypeName: "trigger" })),
    false,
  );
});

Deno.test("visibleObjects() filters by schema and by the access sets", () => {
  const all = visibleObjects(CACHE, "api", {
    description: null,
    tables: null,
    routines: null,
  });
  assert.deepEqual(all.tables.map((t) => t.name), [
    "items",
    "items_view",
    "orders",
    'we"ird /~name',
  ]);
  assert.deepEqual(all.routines.map((r) => [r.name, r.oid]), [
    ["add", 1],
    ["raw_body", 8],
    ["reset", 2],
    ["search", 4],
    ["sum_all", 5],
    ["with_enum", 9],
  ]);
  const some = visibleObjects(CACHE, "api", {
    description: null,
    tables: new Set(["orders", "elsewhere"]),
    routines: new Set([3, 10]),
  });
  assert.deepEqual(some.tables.map((t) => t.name), ["orders"]);
  // only the overload the role may execute
  assert.deepEqual(some.routines.map((r) => [r.name, r.oid]), [["search", 3]]);
  const other = visibleObjects(CACHE, "other", {
    description: null,
    tables: null,
    routines: null,
  });
  assert.deepEqual(other.tables.map((t) => t.name), ["elsewhere"]);
  assert.deepEqual(other.routines.map((r) => r.name), ["other_fn"]);
});
