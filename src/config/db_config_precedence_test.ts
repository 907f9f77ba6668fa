/**
 * Tests of where in-database configuration (`db-config`, `ALTER ROLE
 * authenticator SET pgrst.<key>`) ranks: above the environment and the
 * config file, as PostgREST documents, and below pgrest's command line.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig } from "./config.ts";

const FILE = `db-uri = "postgres://file/db"
db-max-rows = 10
db-anon-role = "file_anon"
app.settings.colour = "file"
`;

Deno.test("in-database settings override the environment and the config file", () => {
  const { config } = parseConfig({
    args: [],
    env: {
      PGRST_DB_MAX_ROWS: "20",
      PGRST_DB_ANON_ROLE: "env_anon",
      PGRST_APP_SETTINGS_COLOUR: "env",
    },
    fileText: FILE,
    dbSettings: {
      "db-max-rows": "30",
      "db-anon-role": "db_anon",
      "app.settings.colour": "db",
    },
  });
  assert.equal(config.dbMaxRows, 30);
  assert.equal(config.dbAnonRole, "db_anon");
  assert.equal(config.appSettings["colour"], "db");
});

Deno.test("the environment and the file still apply to keys the database does not set", () => {
  const { config } = parseConfig({
    args: [],
    env: { PGRST_DB_MAX_ROWS: "20" },
    fileText: FILE,
    dbSettings: { "jwt-aud": "db-aud" },
  });
  assert.equal(config.dbMaxRows, 20);
  assert.equal(config.dbAnonRole, "file_anon");
  assert.equal(config.jwtAud, "db-aud");
});

Deno.test("a command-line option still overrides an in-database setting", () => {
  const { config } = parseConfig({
    args: ["postgres://cli/db", "--anonymous", "cli_anon"],
    env: {},
    fileText: null,
    dbSettings: { "db-anon-role": "db_anon" },
  });
  assert.equal(config.dbAnonRole, "cli_anon");
});
