/**
 * Tests for `parseConfig` (sources, precedence, file syntax, values, @file,
 * warnings), `cliAction` and `usage`, and `loadConfig` when the test has
 * env permission.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  cliAction,
  ConfigError,
  type ConfigInput,
  loadConfig,
  parseConfig,
  usage,
} from "./config.ts";
import { type Config, DEFAULT_CONFIG } from "./types.ts";

function parse(
  input: Partial<ConfigInput> = {},
): { config: Config; warnings: string[] } {
  return parseConfig({
    args: input.args ?? [],
    env: input.env ?? {},
    fileText: input.fileText ?? null,
    ...(input.readFile !== undefined ? { readFile: input.readFile } : {}),
    ...(input.lookupEnv !== undefined ? { lookupEnv: input.lookupEnv } : {}),
  });
}

/** Asserts that `fn` throws a ConfigError whose message matches `re`. */
function assertConfigError(fn: () => unknown, re: RegExp): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (e: unknown) {
    caught = e;
  }
  assert.ok(
    caught instanceof ConfigError,
    `expected a ConfigError, got ${String(caught)}`,
  );
  assert.match(caught.message, re);
  assert.ok(!caught.message.includes("\n"), "the message is one line");
  return caught;
}

function files(map: Record<string, string>): (path: string) => string {
  return function readFile(path: string): string {
    const text = map[path];
    if (text === undefined) {
      throw new Error(`No such file or directory: ${path}`);
    }
    return text;
  };
}

// The conformance runner's env encoding (shared/conformance/run.mjs).
function envName(key: string): string {
  return "PGRST_" + key.toUpperCase().replace(/[-.]/g, "_");
}
function envValue(v: unknown): string {
  if (typeof v === "boolean") return v ? "true" : "false";
  if (v === null || v === undefined) return "";
  return String(v);
}
function conformanceEnv(
  config: Record<string, unknown>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) env[envName(k)] = envValue(v);
  env.PGRST_DB_URI =
    "postgresql://postgrest_test_authenticator@127.0.0.1:5439/postgrest_test";
  env.PGRST_SERVER_HOST = "127.0.0.1";
  env.PGRST_SERVER_PORT = "41234";
  return env;
}

const SECRET = "reallyreallyreallyreallyverysafe";

// ---------------------------------------------------------------- defaults

Deno.test("parseConfig() with no input returns the defaults and no warnings", () => {
  const { config, warnings } = parse();
  assert.deepEqual(config, DEFAULT_CONFIG);
  assert.deepEqual(warnings, []);
});

// ---------------------------------------------------------------- precedence

Deno.test("parseConfig() prefers CLI flags over env over the file", () => {
  const fileText =
    'db-pool = 1\ndb-anon-role = "file_anon"\nserver-port = 1111\n';
  const env = { PGRST_DB_POOL: "2", PGRST_DB_ANON_ROLE: "env_anon" };
  const all = parse({ args: ["--pool", "3"], env, fileText }).config;
  assert.deepEqual(all.dbPool, 3);
  assert.deepEqual(all.dbAnonRole, "env_anon");
  assert.deepEqual(all.serverPort, 1111);

  assert.deepEqual(parse({ env, fileText }).config.dbPool, 2);
  assert.deepEqual(parse({ fileText }).config.dbPool, 1);
  assert.deepEqual(parse().config.dbPool, 10);
});

Deno.test("parseConfig() lets a positional URI override PGRST_DB_URI", () => {
  const { config } = parse({
    args: ["postgres://cli@host/db"],
    env: { PGRST_DB_URI: "postgres://env@host/db" },
  });
  assert.deepEqual(config.dbUri, "postgres://cli@host/db");
});

Deno.test("parseConfig() treats an empty env value as the default, not as a fall-through", () => {
  const fileText = [
    'db-anon-role = "anon"',
    "db-max-rows = 100",
    'db-schemas = "api"',
    'db-extra-search-path = "extensions"',
    'server-cors-allowed-origins = "http://a.com"',
    "db-plan-enabled = true",
  ].join("\n");
  const env = {
    PGRST_DB_ANON_ROLE: "",
    PGRST_DB_MAX_ROWS: "",
    PGRST_DB_SCHEMAS: "",
    PGRST_DB_EXTRA_SEARCH_PATH: "",
    PGRST_SERVER_CORS_ALLOWED_ORIGINS: "",
    PGRST_DB_PLAN_ENABLED: "",
  };
  const { config } = parse({ env, fileText });
  assert.deepEqual(config.dbAnonRole, null);
  assert.deepEqual(config.dbMaxRows, null);
  assert.deepEqual(config.dbSchemas, ["public"]);
  assert.deepEqual(config.dbExtraSearchPath, []);
  assert.deepEqual(config.serverCorsAllowedOrigins, null);
  assert.deepEqual(config.dbPlanEnabled, false);
});

// ---------------------------------------------------------------- aliases

const ALIASES: readonly [string, string, string, keyof Config, unknown][] = [
  ["db-schema", "db-schemas", '"a, b"', "dbSchemas", ["a", "b"]],
  ["max-rows", "db-max-rows", "5", "dbMaxRows", 5],
  ["pre-request", "db-pre-request", '"api.check"', "dbPreRequest", "api.check"],
  ["root-spec", "db-root-spec", '"api.root"', "dbRootSpec", "api.root"],
  [
    "role-claim-key",
    "jwt-role-claim-key",
    '".postgrest.roles[0]"',
    "jwtRoleClaimKey",
    ".postgrest.roles[0]",
  ],
  ["db-pool-timeout", "db-pool-max-idletime", "7", "dbPoolMaxIdletime", 7],
  [
    "secret-is-base64",
    "jwt-secret-is-base64",
    "true",
    "jwtSecretIsBase64",
    true,
  ],
];

for (const [alias, key, fileValue, field, expected] of ALIASES) {
  Deno.test(`parseConfig() reads the old name ${alias} as ${key} in the file and env`, () => {
    const fromFile = parse({ fileText: `${alias} = ${fileValue}\n` });
    assert.deepEqual(fromFile.config[field], expected);
    assert.deepEqual(fromFile.warnings, []);

    const envText = JSON.parse(
      fileValue.startsWith('"') ? fileValue : `"${fileValue}"`,
    );
    const fromEnv = parse({ env: { [envName(alias)]: envText } });
    assert.deepEqual(fromEnv.config[field], expected);
    assert.deepEqual(fromEnv.warnings, []);
  });
}

Deno.test("parseConfig() prefers the current name over its old name in one source", () => {
  const { config, warnings } = parse({
    fileText: 'db-schemas = "new"\ndb-schema = "old"\n',
  });
  assert.deepEqual(config.dbSchemas, ["new"]);
  assert.deepEqual(warnings.length, 1);
  assert.match(warnings[0] ?? "", /db-schemas.*db-schema/);
});

Deno.test("parseConfig() lets an old name in env beat the current name in the file", () => {
  const { config } = parse({
    env: { PGRST_MAX_ROWS: "3" },
    fileText: "db-max-rows = 9\n",
  });
  assert.deepEqual(config.dbMaxRows, 3);
});

// ---------------------------------------------------------------- file syntax

Deno.test("parseConfig() reads comments, quotes, escapes, numbers and booleans from the file", () => {
  const fileText = [
    "# a comment",
    "",
    '   db-uri       = "postgres://u:p@h:5432/db"   # trailing comment',
    'db-anon-role="web \\"anon\\""',
    'db-pre-request = "a\\\\b"',
    "db-pool = 20",
    "db-plan-enabled = true",
    "db-prepared-statements = off",
    "db-aggregates-enabled = on",
    'jwt-aud = "caf\\u00e9"',
    'server-trace-header = "X-Request-Id#not-a-comment"',
    "\tserver-port\t=\t8080\r",
    'app.settings.jwt_exp = "3600"',
    "app.settings.Plain = 12",
    'db-schemas = "v1,v2,SPECIAL \\"@/\\\\#~_-"',
  ].join("\n");
  const { config, warnings } = parse({ fileText });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.dbUri, "postgres://u:p@h:5432/db");
  assert.deepEqual(config.dbAnonRole, 'web "anon"');
  assert.deepEqual(config.dbPreRequest, "a\\b");
  assert.deepEqual(config.dbPool, 20);
  assert.deepEqual(config.dbPlanEnabled, true);
  assert.deepEqual(config.dbPreparedStatements, false);
  assert.deepEqual(config.dbAggregatesEnabled, true);
  assert.deepEqual(config.jwtAud, "café");
  assert.deepEqual(config.serverTraceHeader, "X-Request-Id#not-a-comment");
  assert.deepEqual(config.serverPort, 8080);
  assert.deepEqual(config.appSettings, { jwt_exp: "3600", plain: "12" });
  assert.deepEqual(config.dbSchemas, ["v1", "v2", 'SPECIAL "@/\\#~_-']);
});

Deno.test("parseConfig() keeps the last of a key set twice in the file, with a warning", () => {
  const { config, warnings } = parse({
    fileText: "db-pool = 1\ndb-pool = 2\n",
  });
  assert.deepEqual(config.dbPool, 2);
  assert.match(warnings[0] ?? "", /db-pool is set twice.*line 2/);
});

Deno.test("parseConfig() expands $(NAME) and $$ in file strings", () => {
  const { config } = parse({
    fileText: 'db-uri = "postgres://$(DB_USER):pa$$word@host/db"\n',
    lookupEnv: (name) => (name === "DB_USER" ? "alice" : undefined),
  });
  assert.deepEqual(config.dbUri, "postgres://alice:pa$word@host/db");
});

Deno.test("parseConfig() reports file syntax errors with the line", () => {
  assertConfigError(
    () => parse({ fileText: "db-pool = 1\ndb-anon-role = anon\n" }),
    /^Cannot parse config file line 2: the value of "db-anon-role" must be a "quoted string"/,
  );
  assertConfigError(
    () => parse({ fileText: '\n\ndb-anon-role = "anon\n' }),
    /line \d: unterminated string/,
  );
  assertConfigError(
    () => parse({ fileText: "db-pool 10\n" }),
    /line 1: expected "=" after "db-pool"/,
  );
  assertConfigError(
    () => parse({ fileText: "db-pool =\n" }),
    /line 1: missing value for "db-pool"/,
  );
  assertConfigError(
    () => parse({ fileText: 'db-pool = 10 "x"\n' }),
    /line 1: unexpected "\\"" after the value of "db-pool"/,
  );
  assertConfigError(
    () => parse({ fileText: 'jwt-aud = "a\\qb"\n' }),
    /unknown escape "\\q"/,
  );
  assertConfigError(
    () => parse({ fileText: 'jwt-aud = "a$b"\n' }),
    /"\$" must be written "\$\$"/,
  );
  assertConfigError(
    () => parse({ fileText: 'jwt-aud = "$(NOPE)"\n' }),
    /environment variable "NOPE" is not set/,
  );
  assertConfigError(
    () => parse({ args: ["my.conf"], fileText: "= 1\n" }),
    /^Cannot parse my\.conf line 1: expected a key/,
  );
});

Deno.test("parseConfig() warns about unknown and unsupported file keys and ignores them", () => {
  const { config, warnings } = parse({
    fileText: 'db-shemas = "api"\nserver-otel-enabled = true\ndb-pool = 4\n',
  });
  assert.deepEqual(config.dbSchemas, ["public"]);
  assert.deepEqual(config.dbPool, 4);
  assert.deepEqual(warnings, [
    'Ignoring unknown config key "db-shemas" (config file line 1)',
    "Ignoring server-otel-enabled (config file line 2): pgrest does not support it",
  ]);
});

Deno.test("parseConfig() reads the config file named by the positional argument or --config", () => {
  const readFile = files({ "/etc/pgrest.conf": "db-pool = 6\n" });
  assert.deepEqual(
    parse({ args: ["/etc/pgrest.conf"], readFile }).config.dbPool,
    6,
  );
  assert.deepEqual(
    parse({ args: ["-c", "/etc/pgrest.conf", "postgres://x"], readFile })
      .config,
    { ...DEFAULT_CONFIG, dbPool: 6, dbUri: "postgres://x" },
  );
  assertConfigError(
    () => parse({ args: ["/nope.conf"], readFile }),
    /^Cannot read config file "\/nope\.conf": No such file/,
  );
  assertConfigError(
    () => parse({ args: ["a.conf", "--config", "b.conf"], readFile }),
    /^Two config files given/,
  );
});

// ---------------------------------------------------------------- env

Deno.test("parseConfig() maps PGRST_APP_SETTINGS_* to lower-cased app settings over the file", () => {
  const { config } = parse({
    env: {
      PGRST_APP_SETTINGS_APP_HOST: "env-host",
      PGRST_APP_SETTINGS_EMPTY: "",
    },
    fileText: 'app.settings.app_host = "file-host"\napp.settings.other = "x"\n',
  });
  assert.deepEqual(config.appSettings, {
    app_host: "env-host",
    empty: "",
    other: "x",
  });
});

Deno.test("parseConfig() ignores non-PGRST variables and warns about unknown PGRST_ ones", () => {
  const { config, warnings } = parse({
    env: {
      HOME: "/root",
      PGRST_DB_SHEMAS: "x",
      PGRST_SERVER_OTEL_ENABLED: "true",
    },
  });
  assert.deepEqual(config, DEFAULT_CONFIG);
  assert.deepEqual(warnings, [
    "Ignoring unknown environment variable PGRST_DB_SHEMAS",
    "Ignoring PGRST_SERVER_OTEL_ENABLED: pgrest does not support it",
  ]);
});

Deno.test("parseConfig() reads the conformance runner's environment", () => {
  const env = conformanceEnv({
    "app.settings.app_host": "localhost",
    "app.settings.external_api_secret": "0123456789abcdef",
    "db-anon-role": "postgrest_test_anonymous",
    "db-config": false,
    "db-extra-search-path": "",
    "db-pool-max-idletime": 600,
    "db-pre-request": "test.switch_role",
    "db-schemas": 'v1,v2,SPECIAL "@/\\#~_-',
    "db-tx-end": "rollback-allow-override",
    "jwt-cache-max-entries": 10,
    "jwt-secret": SECRET,
    "log-level": "crit",
    "server-timing-enabled": true,
    "server-cors-allowed-origins": "http://example.com,http://example2.com",
    "openapi-server-proxy-uri": "https://postgrest.com/openapi.json",
    "url-use-legacy-target-names": false,
    "client-error-verbosity": "minimal",
    "db-root-spec": null,
  });
  const { config, warnings } = parse({ env });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config, {
    ...DEFAULT_CONFIG,
    dbUri:
      "postgresql://postgrest_test_authenticator@127.0.0.1:5439/postgrest_test",
    serverHost: "127.0.0.1",
    serverPort: 41234,
    appSettings: {
      app_host: "localhost",
      external_api_secret: "0123456789abcdef",
    },
    dbAnonRole: "postgrest_test_anonymous",
    dbConfig: false,
    dbExtraSearchPath: [],
    dbPoolMaxIdletime: 600,
    dbPreRequest: "test.switch_role",
    dbSchemas: ["v1", "v2", 'SPECIAL "@/\\#~_-'],
    dbTxEnd: "rollback-allow-override",
    jwtCacheMaxEntries: 10,
    jwtSecret: SECRET,
    logLevel: "crit",
    serverTimingEnabled: true,
    serverCorsAllowedOrigins: ["http://example.com", "http://example2.com"],
    openapiServerProxyUri: "https://postgrest.com/openapi.json",
    urlUseLegacyTargetNames: false,
    clientErrorVerbosity: "minimal",
    dbRootSpec: null,
  });
});

Deno.test("parseConfig() sets every Config key from its PGRST_ variable", () => {
  const env: Record<string, string> = {
    PGRST_ADMIN_SERVER_HOST: "0.0.0.0",
    PGRST_ADMIN_SERVER_PORT: "3001",
    PGRST_CLIENT_ERROR_VERBOSITY: "minimal",
    PGRST_DB_AGGREGATES_ENABLED: "TRUE",
    PGRST_DB_ANON_ROLE: "anon",
    PGRST_DB_CHANNEL: "chan",
    PGRST_DB_CHANNEL_ENABLED: "no",
    PGRST_DB_CONFIG: "0",
    PGRST_DB_EXTRA_SEARCH_PATH: "public, extensions",
    PGRST_DB_HOISTED_TX_SETTINGS: "work_mem",
    PGRST_DB_MAX_ROWS: "0",
    PGRST_DB_PLAN_ENABLED: "yes",
    PGRST_DB_POOL: "3",
    PGRST_DB_POOL_ACQUISITION_TIMEOUT: "4",
    PGRST_DB_POOL_MAX_IDLETIME: "5",
    PGRST_DB_POOL_MAX_LIFETIME: "6",
    PGRST_DB_PRE_CONFIG: "postgrest.pre_config",
    PGRST_DB_PRE_REQUEST: "api.pre",
    PGRST_DB_PREPARED_STATEMENTS: "Off",
    PGRST_DB_ROOT_SPEC: "api.root",
    PGRST_DB_SCHEMAS: "api , v2",
    PGRST_DB_TX_END: "commit-allow-override",
    PGRST_DB_URI: "host=localhost dbname=app",
    PGRST_JWT_AUD: "urn:example:aud",
    PGRST_JWT_CACHE_MAX_ENTRIES: "0",
    PGRST_JWT_ROLE_CLAIM_KEY: "$.role",
    PGRST_JWT_SECRET: "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=",
    PGRST_JWT_SECRET_IS_BASE64: "1",
    PGRST_LOG_LEVEL: "debug",
    PGRST_LOG_QUERY: "main-query",
    PGRST_OPENAPI_MODE: "ignore-privileges",
    PGRST_OPENAPI_SECURITY_ACTIVE: "on",
    PGRST_OPENAPI_SERVER_PROXY_URI: "http://proxy:8080/api",
    PGRST_SERVER_CORS_ALLOWED_ORIGINS: "http://a.com, http://b.com,",
    PGRST_SERVER_MAX_BODY_BYTES: "1000",
    PGRST_SERVER_MAX_URL_LENGTH: "2000",
    PGRST_SERVER_MAX_HEADER_BYTES: "3000",
    PGRST_SERVER_MAX_EMBED_DEPTH: "4",
    PGRST_SERVER_MAX_SELECT_ITEMS: "50",
    PGRST_SERVER_REQUEST_TIMEOUT: "0",
    PGRST_SERVER_MAX_CONCURRENT_REQUESTS: "0",
    PGRST_SERVER_HEADER_READ_TIMEOUT: "7",
    PGRST_SERVER_MAX_CONNECTIONS: "99",
    PGRST_SERVER_HOST: "*6",
    PGRST_SERVER_PORT: "0",
    PGRST_SERVER_REUSEPORT: "true",
    PGRST_SERVER_TLS_CERT: "/etc/pgrest/cert.pem",
    PGRST_SERVER_TLS_KEY: "/etc/pgrest/key.pem",
    PGRST_SERVER_UNIX_SOCKET: "/run/pgrest.sock",
    PGRST_SERVER_UNIX_SOCKET_MODE: "600",
    PGRST_DB_POOL_AUTOMATIC_RECOVERY: "false",
    PGRST_DB_POOL_PIPELINE: "4",
    PGRST_SERVER_TIMING_ENABLED: "true",
    PGRST_SERVER_TRACE_HEADER: "X-Trace",
    PGRST_URL_USE_LEGACY_TARGET_NAMES: "false",
    PGRST_APP_SETTINGS_FOO: "bar",
  };
  const expected: Config = {
    adminServerHost: "0.0.0.0",
    adminServerPort: 3001,
    clientErrorVerbosity: "minimal",
    dbAggregatesEnabled: true,
    dbAnonRole: "anon",
    dbChannel: "chan",
    dbChannelEnabled: false,
    dbConfig: false,
    dbExtraSearchPath: ["public", "extensions"],
    dbHoistedTxSettings: ["work_mem"],
    dbMaxRows: 0,
    dbPlanEnabled: true,
    dbPool: 3,
    dbPoolAcquisitionTimeout: 4,
    dbPoolMaxIdletime: 5,
    dbPoolMaxLifetime: 6,
    dbPoolPipeline: 4,
    dbPreConfig: "postgrest.pre_config",
    dbPreRequest: "api.pre",
    dbPreparedStatements: false,
    dbRootSpec: "api.root",
    dbSchemas: ["api", "v2"],
    dbTxEnd: "commit-allow-override",
    dbUri: "host=localhost dbname=app",
    jwtAud: "urn:example:aud",
    jwtCacheMaxEntries: 0,
    jwtRoleClaimKey: "$.role",
    jwtSecret: "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=",
    jwtSecretIsBase64: true,
    logLevel: "debug",
    logQuery: "main-query",
    openapiMode: "ignore-privileges",
    openapiSecurityActive: true,
    openapiServerProxyUri: "http://proxy:8080/api",
    serverCorsAllowedOrigins: ["http://a.com", "http://b.com"],
    serverMaxBodyBytes: 1000,
    serverMaxUrlLength: 2000,
    serverMaxHeaderBytes: 3000,
    serverMaxEmbedDepth: 4,
    serverMaxSelectItems: 50,
    serverRequestTimeout: 0,
    serverMaxConcurrentRequests: 0,
    serverHeaderReadTimeout: 7,
    serverMaxConnections: 99,
    serverHost: "*6",
    serverPort: 0,
    serverReuseport: true,
    serverTlsCert: "/etc/pgrest/cert.pem",
    serverTlsKey: "/etc/pgrest/key.pem",
    serverUnixSocket: "/run/pgrest.sock",
    serverUnixSocketMode: "600",
    dbPoolAutomaticRecovery: false,
    serverTimingEnabled: true,
    serverTraceHeader: "X-Trace",
    urlUseLegacyTargetNames: false,
    appSettings: { foo: "bar" },
  };
  const { config, warnings } = parse({ env });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config, expected);
  // Every field differs from its default, so every key was really read.
  for (const key of Object.keys(DEFAULT_CONFIG) as (keyof Config)[]) {
    assert.ok(
      JSON.stringify(config[key]) !== JSON.stringify(DEFAULT_CONFIG[key]),
      `${key} was not set`,
    );
  }
});

// ---------------------------------------------------------------- invalid values

Deno.test("parseConfig() names the key and the source of an invalid value", () => {
  const cases: [Partial<ConfigInput>, RegExp][] = [
    [
      { env: { PGRST_DB_POOL: "abc" } },
      /^Invalid value for db-pool \(PGRST_DB_POOL\): "abc" is not a positive integer$/,
    ],
    [
      { env: { PGRST_DB_POOL: "0" } },
      /db-pool .*"0" is not a positive integer/,
    ],
    [
      { args: ["--pool", "1.5"] },
      /^Invalid value for db-pool \(--pool\): "1\.5"/,
    ],
    [
      { fileText: "db-pool = 2.5\n" },
      /^Invalid value for db-pool \(config file line 1\): "2\.5" is not a positive integer$/,
    ],
    [
      { env: { PGRST_SERVER_PORT: "70000" } },
      /server-port \(PGRST_SERVER_PORT\): "70000" is not a port/,
    ],
    [{ args: ["-p", "-1"] }, /server-port \(-p\): "-1"/],
    [
      { env: { PGRST_DB_MAX_ROWS: "-5" } },
      /db-max-rows .*"-5" is not a non-negative integer/,
    ],
    [{ env: { PGRST_MAX_ROWS: "x" } }, /db-max-rows \(PGRST_MAX_ROWS\)/],
    [
      { env: { PGRST_SERVER_REQUEST_TIMEOUT: "2147484" } },
      /server-request-timeout .*is not a number of seconds \(0 to 2147483\)/,
    ],
    [
      { env: { PGRST_SERVER_HEADER_READ_TIMEOUT: "99999999" } },
      /server-header-read-timeout .*is not a number of seconds/,
    ],
    [
      { env: { PGRST_SERVER_UNIX_SOCKET_MODE: "abc" } },
      /server-unix-socket-mode .*is not a socket mode/,
    ],
    [
      { env: { PGRST_SERVER_UNIX_SOCKET_MODE: "4777" } },
      /server-unix-socket-mode .*is not a socket mode/,
    ],
    [
      { env: { PGRST_SERVER_UNIX_SOCKET_MODE: "500" } },
      /server-unix-socket-mode .*is not a socket mode/,
    ],
    [
      { env: { PGRST_DB_TX_END: "abort" } },
      /db-tx-end .*"abort" is not one of commit, commit-allow-override/,
    ],
    [
      { env: { PGRST_LOG_LEVEL: "verbose" } },
      /log-level .*"verbose" is not one of crit, error/,
    ],
    [
      { env: { PGRST_OPENAPI_MODE: "on" } },
      /openapi-mode .*"on" is not one of follow-privileges/,
    ],
    [
      { env: { PGRST_CLIENT_ERROR_VERBOSITY: "full" } },
      /client-error-verbosity .*"full" is not one of verbose, minimal/,
    ],
    [
      { env: { PGRST_DB_CONFIG: "maybe" } },
      /db-config \(PGRST_DB_CONFIG\): "maybe" is not a boolean/,
    ],
    [
      { fileText: 'db-schemas = "api,pg_catalog"\n' },
      /db-schemas .*includes the schema "pg_catalog"/,
    ],
    [{ env: { PGRST_DB_SCHEMAS: " , " } }, /db-schemas .*names no schema/],
    [
      { env: { PGRST_JWT_AUD: "not a uri: x" } },
      /jwt-aud .*is not a valid URI/,
    ],
    [
      { env: { PGRST_OPENAPI_SERVER_PROXY_URI: "ftp://x/y" } },
      /openapi-server-proxy-uri .*is not an http\(s\) URI/,
    ],
    [
      { env: { PGRST_ADMIN_SERVER_PORT: "3000" } },
      /^Invalid value for admin-server-port \(PGRST_ADMIN_SERVER_PORT\): "3000" is the same as server-port$/,
    ],
  ];
  for (const [input, re] of cases) assertConfigError(() => parse(input), re);
});

Deno.test("parseConfig() never puts jwt-secret in an error message", () => {
  const e = assertConfigError(
    () =>
      parse({
        env: {
          PGRST_JWT_SECRET: "not*base64*secret",
          PGRST_JWT_SECRET_IS_BASE64: "true",
        },
      }),
    /^Invalid value for jwt-secret \(PGRST_JWT_SECRET\): the value is not valid base64/,
  );
  assert.ok(!e.message.includes("not*base64*secret"));
});

// ---------------------------------------------------------------- secrets

Deno.test("parseConfig() warns loudly about a jwt-secret shorter than 32 bytes", () => {
  const { config, warnings } = parse({ args: ["-j", "short-secret"] });
  assert.deepEqual(config.jwtSecret, "short-secret");
  assert.deepEqual(warnings.length, 1);
  const warning = warnings[0] ?? "";
  assert.match(warning, /^WARNING: jwt-secret \(-j\) is only 12 bytes long/);
  assert.ok(!warning.includes("short-secret"));
});

Deno.test("parseConfig() does not warn about a long, JSON or long base64 jwt-secret", () => {
  assert.deepEqual(parse({ env: { PGRST_JWT_SECRET: SECRET } }).warnings, []);
  const jwk = '{"kty":"oct","k":"c2hvcnQ"}';
  assert.deepEqual(parse({ env: { PGRST_JWT_SECRET: jwk } }).warnings, []);
  const b64 = btoa("x".repeat(32)).replaceAll("+", "-").replaceAll("/", "_");
  assert.deepEqual(
    parse({
      env: { PGRST_JWT_SECRET: b64, PGRST_JWT_SECRET_IS_BASE64: "true" },
    })
      .warnings,
    [],
  );
});

Deno.test("parseConfig() warns about a base64 jwt-secret that decodes to under 32 bytes", () => {
  const { warnings } = parse({
    env: {
      PGRST_JWT_SECRET: btoa("x".repeat(40)),
      PGRST_JWT_SECRET_IS_BASE64: "true",
    },
  });
  assert.deepEqual(warnings, []);
  const short = parse({
    env: {
      PGRST_JWT_SECRET: btoa("x".repeat(31)),
      PGRST_JWT_SECRET_IS_BASE64: "true",
    },
  });
  assert.match(short.warnings[0] ?? "", /^WARNING: .* 31 bytes/);
});

Deno.test("parseConfig() expands @file for jwt-secret and db-uri through readFile", () => {
  const readFile = files({
    "/run/secret": SECRET + "\n",
    "/run/secret-crlf": SECRET + "\r\n",
    "/run/uri": "  postgres://u:p@db/app \n",
  });
  const { config, warnings } = parse({
    env: { PGRST_JWT_SECRET: "@/run/secret", PGRST_DB_URI: "@/run/uri" },
    readFile,
  });
  assert.deepEqual(config.jwtSecret, SECRET);
  assert.deepEqual(config.dbUri, "postgres://u:p@db/app");
  assert.deepEqual(warnings, []);
  assert.deepEqual(
    parse({ fileText: 'jwt-secret = "@/run/secret-crlf"\n', readFile }).config
      .jwtSecret,
    SECRET,
  );
  // Only one trailing newline goes, as PostgREST's chomp.
  const two = parse({
    args: ["--jwt-secret", "@/two"],
    readFile: files({ "/two": SECRET + "\n\n" }),
  });
  assert.deepEqual(two.config.jwtSecret, SECRET + "\n");
});

Deno.test("parseConfig() reports an unreadable @file naming the key", () => {
  assertConfigError(
    () =>
      parse({ env: { PGRST_JWT_SECRET: "@/missing" }, readFile: files({}) }),
    /^Cannot read jwt-secret from "\/missing" \(PGRST_JWT_SECRET\): No such file/,
  );
  assertConfigError(
    () => parse({ env: { PGRST_DB_URI: "@/missing" } }),
    /^Cannot read db-uri from "\/missing" \(PGRST_DB_URI\): no file access/,
  );
});

// ---------------------------------------------------------------- command line

Deno.test("parseConfig() reads every CLI flag in long and short form", () => {
  const expected: Config = {
    ...DEFAULT_CONFIG,
    dbUri: "postgresql://localhost/app",
    dbAnonRole: "anon",
    jwtSecret: SECRET,
    dbSchemas: ["api", "v2"],
    serverHost: "0.0.0.0",
    serverPort: 8080,
    dbPool: 5,
    dbMaxRows: 100,
    dbPoolMaxIdletime: 60,
  };
  const long = parse({
    args: [
      "postgresql://localhost/app",
      "--anonymous",
      "anon",
      "--jwt-secret",
      SECRET,
      "--schema",
      "api,v2",
      "--host",
      "0.0.0.0",
      "--port",
      "8080",
      "--pool",
      "5",
      "--max-rows",
      "100",
      "--pool-timeout",
      "60",
    ],
  });
  assert.deepEqual(long.config, expected);
  const short = parse({
    args: [
      "-a",
      "anon",
      "-j",
      SECRET,
      "-s=api,v2",
      "--host=0.0.0.0",
      "-p8080",
      "-o",
      "5",
      "-m",
      "100",
      "--pool-timeout=60",
      "postgresql://localhost/app",
    ],
  });
  assert.deepEqual(short.config, expected);
});

Deno.test("parseConfig() takes a libpq key=value string as the database URI", () => {
  const { config } = parse({ args: ["host=/tmp dbname=app"] });
  assert.deepEqual(config.dbUri, "host=/tmp dbname=app");
});

Deno.test("parseConfig() rejects unknown flags, missing values and extra arguments", () => {
  assertConfigError(
    () => parse({ args: ["--pgport", "1"] }),
    /^Unknown option "--pgport": see --help$/,
  );
  assertConfigError(() => parse({ args: ["-x"] }), /^Unknown option "-x"/);
  assertConfigError(
    () => parse({ args: ["--port"] }),
    /^Missing value for option --port \(PORT\)$/,
  );
  assertConfigError(
    () => parse({ args: ["--help=yes"] }),
    /^Option --help takes no value$/,
  );
  assertConfigError(
    () => parse({ args: ["postgres://a", "postgres://b"] }),
    /only one database URI/,
  );
});

Deno.test("cliAction() detects --help and --version", () => {
  assert.deepEqual(cliAction([]), "run");
  assert.deepEqual(cliAction(["postgres://x", "-p", "1"]), "run");
  assert.deepEqual(cliAction(["--help"]), "help");
  assert.deepEqual(cliAction(["-h", "-v"]), "help");
  assert.deepEqual(cliAction(["--version"]), "version");
  assert.deepEqual(cliAction(["-v"]), "version");
  assert.throws(() => cliAction(["--bogus"]), ConfigError);
});

Deno.test("usage() lists every flag, the precedence and every key", () => {
  const text = usage();
  for (
    const flag of [
      "-a, --anonymous",
      "-j, --jwt-secret",
      "-s, --schema",
      "--host",
      "-p, --port",
      "-o, --pool",
      "-m, --max-rows",
      "--pool-timeout",
      "-c, --config",
      "-h, --help",
      "-v, --version",
    ]
  ) {
    assert.ok(text.includes(flag), `usage() mentions ${flag}`);
  }
  assert.match(
    text,
    /command-line options > in-database settings\s+\(db-config\) > PGRST_\* environment variables > config file > defaults/,
  );
  for (
    const key of [
      "db-uri",
      "db-schemas",
      "jwt-secret",
      "server-port",
      "url-use-legacy-target-names",
      "server-max-body-bytes",
      "server-max-url-length",
      "server-max-header-bytes",
      "server-max-embed-depth",
      "server-max-select-items",
      "server-request-timeout",
      "server-max-concurrent-requests",
      "server-header-read-timeout",
      "server-max-connections",
    ]
  ) {
    assert.ok(text.includes(key), `usage() mentions ${key}`);
  }
});

// ---------------------------------------------------------------- loadConfig

Deno.test({
  name: "loadConfig() reads PGRST_ variables from the process environment",
  ignore: Deno.permissions.querySync({ name: "env" }).state !== "granted",
  fn() {
    const names = ["PGRST_DB_POOL", "PGRST_APP_SETTINGS_LOAD_TEST"];
    const saved = names.map((n) => Deno.env.get(n));
    try {
      Deno.env.set("PGRST_DB_POOL", "17");
      Deno.env.set("PGRST_APP_SETTINGS_LOAD_TEST", "yes");
      const { config } = loadConfig(["postgres://cli/db", "--port", "4321"]);
      assert.deepEqual(config.dbPool, 17);
      assert.deepEqual(config.serverPort, 4321);
      assert.deepEqual(config.dbUri, "postgres://cli/db");
      assert.deepEqual(config.appSettings.load_test, "yes");
    } finally {
      names.forEach((n, i) => {
        const v = saved[i];
        if (v === undefined) Deno.env.delete(n);
        else Deno.env.set(n, v);
      });
    }
  },
});
