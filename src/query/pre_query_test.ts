/**
 * Tests of the statements that run before the main query.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  preConfigStatement,
  renderTxVars,
  type TxVars,
  txVarsStatement,
} from "./pre_query.ts";
import { render } from "./sql.ts";

const base: TxVars = {
  searchPath: ["api", 'we"ird'],
  role: "web_anon",
  claims: { role: "web_anon" },
  method: "GET",
  path: "/items",
  headers: { accept: "*/*" },
  cookies: {},
  timezone: null,
  appSettings: { a: "1" },
};

Deno.test("renderTxVars() renders what txVarsStatement() renders, for every shape", () => {
  for (
    const v of [
      base,
      { ...base, timezone: "UTC" },
      {
        ...base,
        appSettings: {},
      },
      { ...base, readOnly: true },
      { ...base, readOnly: false },
    ]
  ) {
    assert.deepEqual(renderTxVars(v), render(txVarsStatement(v)));
    // second call hits the cache and still agrees
    assert.deepEqual(renderTxVars(v), render(txVarsStatement(v)));
  }
});

Deno.test("renderTxVars() binds every value, none in the text", () => {
  const st = renderTxVars({ ...base, role: "x'; drop table t; --" });
  assert.ok(!st.text.includes("drop table"));
  assert.ok(st.params.includes("x'; drop table t; --"));
});

Deno.test("renderTxVars() with readOnly sets transaction_read_only first; without, not at all", () => {
  const ro = renderTxVars({ ...base, readOnly: true });
  assert.match(
    ro.text,
    /^SELECT 1 FROM \(SELECT set_config\('transaction_read_only', 'on', true\), set_config\('search_path'/,
  );
  assert.deepEqual(ro.params, renderTxVars(base).params);
  assert.ok(!renderTxVars(base).text.includes("transaction_read_only"));
});

Deno.test("preConfigStatement() calls the quoted function and reads each name back as a parameter", () => {
  const st = render(
    preConfigStatement('my schema."pre"', [
      "pgrst.db_max_rows",
      "pgrst.jwt_aud",
    ]),
  );
  assert.equal(
    st.text,
    'SELECT "pgrst_name" AS name, current_setting("pgrst_name", true) AS value FROM unnest($1::text[]) AS "pgrst_name" JOIN "my schema"."pre"() AS "pgrst_pre" ON TRUE',
  );
  assert.deepEqual(st.params, [["pgrst.db_max_rows", "pgrst.jwt_aud"]]);
});
