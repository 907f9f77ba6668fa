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

Deno.test("in-database settings cannot change how the server runs: only PostgREST's in-database keys are read", () => {
  const { config, warnings } = parseConfig({
    args: [],
    env: {
      PGRST_DB_URI: "postgres://env/db",
      PGRST_SERVER_PORT: "3100",
      PGRST_LOG_LEVEL: "warn",
      PGRST_SERVER_MAX_BODY_BYTES: "1000",
    },
    fileText: null,
    dbSettings: {
      "db-uri": "postgres://evil/db",
      "server-port": "1",
      "log-level": "debug",
      "server-max-body-bytes": "999999999",
      "jwt-aud": "db-aud",
    },
  });
  assert.equal(config.dbUri, "postgres://env/db");
  assert.equal(config.serverPort, 3100);
  assert.equal(config.logLevel, "warn");
  assert.equal(config.serverMaxBodyBytes, 1000);
  assert.equal(config.jwtAud, "db-aud");
  for (const key of ["db_uri", "server_port", "log_level"]) {
    assert.ok(
      warnings.some((w) => w.includes(`pgrst.${key}`)),
      JSON.stringify(warnings),
    );
  }
});
