/**
 * Tests of choosing the role settings applied to requests and of reading
 * the in-database configuration, from rows of `roleSettingsSql`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { roleSettingsSql } from "./catalog_sql.ts";
import { applicableRoleSettings, loadDbConfig } from "./load.ts";

Deno.test("applicableRoleSettings() drops settings the authenticator may not set and pgrst.* keys", () => {
  const got = applicableRoleSettings([
    { role: "anon", name: "log_statement", value: "all", settable: false },
    { role: "anon", name: "statement_timeout", value: "5s", settable: true },
    { role: "anon", name: "pgrst.db_max_rows", value: "9", settable: true },
    { role: "anon", name: "app.foo", value: "bar", settable: true },
    { role: "other", name: "log_statement", value: "all", settable: false },
  ]);
  assert.deepEqual(got.get("anon"), [
    ["statement_timeout", "5s"],
    ["app.foo", "bar"],
  ]);
  assert.equal(got.has("other"), false);
});

Deno.test("applicableRoleSettings() lets the database-specific value (the later row) win", () => {
  const got = applicableRoleSettings([
    { role: "anon", name: "statement_timeout", value: "5s", settable: true },
    { role: "anon", name: "work_mem", value: "4MB", settable: true },
    { role: "anon", name: "statement_timeout", value: "7s", settable: true },
  ]);
  assert.deepEqual(got.get("anon"), [
    ["statement_timeout", "7s"],
    ["work_mem", "4MB"],
  ]);
});

Deno.test("roleSettingsSql() asks has_parameter_privilege only on PostgreSQL 15 and later", () => {
  assert.match(roleSettingsSql(150000), /has_parameter_privilege/);
  assert.doesNotMatch(roleSettingsSql(140000), /has_parameter_privilege/);
  assert.doesNotMatch(roleSettingsSql(150000), /rolname = current_user\n/);
  assert.match(roleSettingsSql(0, true), /and r\.rolname = current_user/);
});

Deno.test("loadDbConfig() reads the role's own pgrst.* keys by PostgREST name, the later value winning", async () => {
  const queries: string[] = [];
  const got = await loadDbConfig((text) => {
    queries.push(text);
    return Promise.resolve([
      { role: "auth", name: "pgrst.db_max_rows", value: "5", settable: true },
      { role: "auth", name: "statement_timeout", value: "1s", settable: true },
      { role: "auth", name: "pgrst.app.settings.my_key", value: "x" },
      { role: "auth", name: "pgrst.db_max_rows", value: "6", settable: true },
    ]);
  });
  assert.deepEqual(got, { "db-max-rows": "6", "app.settings.my_key": "x" });
  assert.match(queries[0] ?? "", /and r\.rolname = current_user/);
});
