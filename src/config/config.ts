/**
 * Owns configuration loading: the command line, `PGRST_*` environment
 * variables and PostgREST-syntax config files, merged into one validated
 * {@linkcode Config}. Exports {@linkcode parseConfig} (pure),
 * {@linkcode loadConfig} (reads the process environment and files),
 * {@linkcode cliAction}, {@linkcode usage} and {@linkcode ConfigError}.
 *
 * Precedence, highest first:
 *
 * 1. command-line flags (`--port 3000`, or a positional `postgres://` URI);
 * 2. environment variables: `PGRST_` + the key upper-cased with `-` and `.`
 *    as `_` (`PGRST_DB_URI`); `PGRST_APP_SETTINGS_FOO` sets `app.settings.foo`;
 * 3. the config file (`key = "value"` lines), named by the positional
 *    argument or `--config`;
 * 4. PostgREST's defaults ({@linkcode DEFAULT_CONFIG}).
 *
 * PostgREST itself reads the file and lets the environment override it; the
 * command-line flags are pgrest's addition (PostgREST's early versions had
 * similar ones). As in PostgREST:
 *
 * - the first source that sets a key wins, and an empty value there means
 *   "use the default" (`PGRST_DB_ANON_ROLE=""` → no anonymous role), except
 *   `db-extra-search-path = ""`, which is the empty list;
 * - the legacy names `db-schema`, `max-rows`, `pre-request`, `root-spec`,
 *   `role-claim-key`, `db-pool-timeout` and `secret-is-base64` are accepted
 *   in the file and the environment; the current name wins if both are set;
 * - `jwt-secret` and `db-uri` may be `@/path/to/file`: the secret loses one
 *   trailing newline, the URI its surrounding whitespace;
 * - file strings expand `$(NAME)` from the environment and `$$` to `$`.
 *
 * Unlike PostgREST, a value that cannot be parsed is an error, not the
 * default, and a `jwt-secret` shorter than 32 bytes is a loud warning rather
 * than a startup failure. Error messages never contain the value of
 * `jwt-secret` or `db-uri`. A `jwt-secret` starting with `http://` or
 * `https://` is a key URL (`src/auth/jwks_url.ts`): it must be `https://`,
 * or `http://` on a loopback host.
 *
 * @module
 */

import {
  type Config,
  DEFAULT_CONFIG,
  type LogLevel,
  type OpenApiMode,
  type TxEnd,
} from "./types.ts";
import { keySetUrl } from "../auth/jwks_url.ts";

/** A configuration that cannot be used; the message is one line naming the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** What `parseConfig` reads; everything it needs is passed in. */
export interface ConfigInput {
  /** Command-line arguments, without the program name. */
  readonly args: readonly string[];
  /** `PGRST_*` environment variables (other names are ignored). */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The config file's text, or null. When null and the arguments name a
   * config file, it is read with `readFile`.
   */
  readonly fileText: string | null;
  /** Reads `@file` values (and the config file when `fileText` is null). */
  readonly readFile?: (path: string) => string;
  /**
   * Looks up `$(NAME)` in config-file strings; defaults to reading `env`.
   * Returns undefined for an unset variable.
   */
  readonly lookupEnv?: (name: string) => string | undefined;
  /**
   * In-database configuration (`db-config`): `ALTER ROLE … SET pgrst.x`
   * values by PostgREST key (`db-max-rows`). They rank above the config
   * file and the environment (as in PostgREST), below the command line.
   */
  readonly dbSettings?: Readonly<Record<string, string>>;
}

/** The validated configuration and the warnings to print at startup. */
export interface ConfigResult {
  readonly config: Config;
  /** One line each; the loud ones start with "WARNING:". */
  readonly warnings: string[];
}

/** What the command line asks for before any configuration is read. */
export type CliAction =
  | "run"
  | "help"
  | "version"
  | "example"
  | "dump-config"
  | "dump-schema"
  | "ready";

// ---------------------------------------------------------------- key table

type MutableConfig = { -readonly [K in keyof Config]: Config[K] };

/** One raw value and where it came from, for error messages. */
interface RawValue {
  readonly text: string;
  /** e.g. `PGRST_DB_POOL`, `--pool`, `pgrest.conf line 3`. */
  readonly where: string;
}

type Fail = (reason: string) => never;

interface KeySpec {
  readonly key: string;
  readonly aliases: readonly string[];
  readonly field: keyof Config;
  readonly sensitive: boolean;
  readonly doc: string;
  apply(target: MutableConfig, raw: RawValue): void;
}

interface SpecOptions<T> {
  readonly aliases?: readonly string[];
  readonly sensitive?: boolean;
  /** The value of an empty string, when it is not the default. */
  readonly empty?: T;
}

function spec<K extends Exclude<keyof Config, "appSettings">>(
  key: string,
  field: K,
  doc: string,
  parse: (text: string, fail: Fail) => Config[K],
  opts: SpecOptions<Config[K]> = {},
): KeySpec {
  const sensitive = opts.sensitive ?? false;
  return {
    key,
    field,
    doc,
    sensitive,
    aliases: opts.aliases ?? [],
    apply(target: MutableConfig, raw: RawValue): void {
      function fail(reason: string): never {
        throw invalidValue(key, raw, sensitive, reason);
      }
      const empty = opts.empty !== undefined
        ? opts.empty
        : DEFAULT_CONFIG[field];
      (target as Pick<MutableConfig, K>)[field] = raw.text === ""
        ? empty
        : parse(raw.text, fail);
    },
  };
}

function invalidValue(
  key: string,
  raw: RawValue,
  sensitive: boolean,
  reason: string,
): ConfigError {
  const shown = sensitive ? "the value" : JSON.stringify(raw.text);
  return new ConfigError(
    `Invalid value for ${key} (${raw.where}): ${shown} ${reason}`,
  );
}

function text(value: string): string {
  return value;
}

function integer(
  min: number,
  max: number,
  what: string,
): (value: string, fail: Fail) => number {
  return function parseInteger(value: string, fail: Fail): number {
    const t = value.trim();
    const n = Number(t);
    if (
      !/^[+-]?\d+$/.test(t) || !Number.isSafeInteger(n) || n < min || n > max
    ) {
      fail(`is not ${what}`);
    }
    return n;
  };
}

const positiveInt = integer(1, Number.MAX_SAFE_INTEGER, "a positive integer");
const nonNegativeInt = integer(
  0,
  Number.MAX_SAFE_INTEGER,
  "a non-negative integer",
);
const port = integer(0, 65535, "a port number (0 to 65535)");
/** Seconds for a timer: setTimeout overflows beyond 2^31 - 1 ms. */
const timeoutSeconds = integer(
  0,
  2_147_483,
  "a number of seconds (0 to 2147483)",
);

/** Unix socket permissions: three octal digits, 600 to 777 (PostgREST). */
function socketMode(value: string, fail: Fail): string {
  const t = value.trim();
  if (!/^[0-7]{3}$/.test(t) || parseInt(t, 8) < 0o600) {
    fail("is not a socket mode (three octal digits, 600 to 777)");
  }
  return t;
}

const TRUE_WORDS: ReadonlySet<string> = new Set(["true", "on", "yes", "1"]);
const FALSE_WORDS: ReadonlySet<string> = new Set(["false", "off", "no", "0"]);

function boolean(value: string, fail: Fail): boolean {
  const t = value.trim().toLowerCase();
  if (TRUE_WORDS.has(t)) return true;
  if (FALSE_WORDS.has(t)) return false;
  return fail("is not a boolean (true/false, on/off, yes/no, 1/0)");
}

function oneOf<T extends string>(
  values: readonly T[],
): (value: string, fail: Fail) => T {
  return function parseOneOf(value: string, fail: Fail): T {
    const t = value.trim();
    const found = values.find((v) => v === t);
    if (found === undefined) fail(`is not one of ${values.join(", ")}`);
    return found;
  };
}

/** Splits on commas and trims each item, dropping empty items. */
function list(value: string): readonly string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function schemas(value: string, fail: Fail): readonly string[] {
  const names = list(value);
  if (names.length === 0) fail("names no schema");
  for (const banned of ["pg_catalog", "information_schema"]) {
    if (names.includes(banned)) fail(`includes the schema "${banned}"`);
  }
  return names;
}

/** PostgREST `optStringOrURI`: a string, or an RFC 3986 URI if it has `:`. */
function audience(value: string, fail: Fail): string {
  if (
    value.includes(":") &&
    !(/^[A-Za-z][A-Za-z0-9+.-]*:\S*$/.test(value) && URL.canParse(value))
  ) {
    fail('contains ":" but is not a valid URI');
  }
  return value;
}

/** PostgREST `isMalformedProxyUri`: an http(s) URI with a host. */
function proxyUri(value: string, fail: Fail): string {
  const url = URL.canParse(value) ? new URL(value) : null;
  if (
    url === null || !["http:", "https:"].includes(url.protocol) ||
    url.hostname === "" || url.search !== "" || url.hash !== ""
  ) {
    fail("is not an http(s) URI such as https://example.com:8443/basePath");
  }
  return value;
}

const TX_END: readonly TxEnd[] = [
  "commit",
  "commit-allow-override",
  "rollback",
  "rollback-allow-override",
];
const LOG_LEVEL: readonly LogLevel[] = [
  "crit",
  "error",
  "warn",
  "info",
  "debug",
];
const OPENAPI_MODE: readonly OpenApiMode[] = [
  "follow-privileges",
  "ignore-privileges",
  "disabled",
];
const VERBOSITY: readonly ("verbose" | "minimal")[] = ["verbose", "minimal"];
const LOG_QUERY: readonly ("disabled" | "main-query")[] = [
  "disabled",
  "main-query",
];

/** Every key of `Config` except `appSettings`, in PostgREST's names. */
const SPECS: readonly KeySpec[] = [
  spec(
    "admin-server-host",
    "adminServerHost",
    "admin server host (unset: server-host)",
    text,
  ),
  spec(
    "admin-server-port",
    "adminServerPort",
    "admin server port (unset: no admin server)",
    port,
  ),
  spec(
    "client-error-verbosity",
    "clientErrorVerbosity",
    "verbose | minimal",
    oneOf(VERBOSITY),
  ),
  spec(
    "db-aggregates-enabled",
    "dbAggregatesEnabled",
    "allow aggregate functions",
    boolean,
  ),
  spec("db-anon-role", "dbAnonRole", "role for requests without a JWT", text),
  spec("db-channel", "dbChannel", "LISTEN channel", text),
  spec(
    "log-query",
    "logQuery",
    "disabled | main-query (log each main SQL statement, no parameters)",
    oneOf(LOG_QUERY),
  ),
  spec(
    "db-pool-automatic-recovery",
    "dbPoolAutomaticRecovery",
    "reconnect and reload when the database comes back",
    boolean,
  ),
  spec(
    "db-channel-enabled",
    "dbChannelEnabled",
    "listen for reload notifications",
    boolean,
  ),
  spec("db-config", "dbConfig", "read in-database configuration", boolean),
  spec(
    "db-extra-search-path",
    "dbExtraSearchPath",
    "extra schemas on search_path",
    list,
    { empty: [] },
  ),
  spec(
    "db-hoisted-tx-settings",
    "dbHoistedTxSettings",
    "function settings applied to the transaction",
    list,
  ),
  spec(
    "db-max-rows",
    "dbMaxRows",
    "row limit per request (unset: none)",
    nonNegativeInt,
    { aliases: ["max-rows"] },
  ),
  spec(
    "db-plan-enabled",
    "dbPlanEnabled",
    "allow application/vnd.pgrst.plan",
    boolean,
  ),
  spec("db-pool", "dbPool", "connection pool size", positiveInt),
  spec(
    "db-pool-acquisition-timeout",
    "dbPoolAcquisitionTimeout",
    "seconds to wait for a connection",
    nonNegativeInt,
  ),
  spec(
    "db-pool-max-idletime",
    "dbPoolMaxIdletime",
    "seconds before an idle connection closes",
    nonNegativeInt,
    { aliases: ["db-pool-timeout"] },
  ),
  spec(
    "db-pool-pipeline",
    "dbPoolPipeline",
    "requests sharing a busy connection (pipelined); 1: none",
    positiveInt,
  ),
  spec(
    "db-pool-max-lifetime",
    "dbPoolMaxLifetime",
    "maximum connection age in seconds",
    nonNegativeInt,
  ),
  spec(
    "db-pre-config",
    "dbPreConfig",
    "function that sets in-database config",
    text,
  ),
  spec(
    "db-pre-request",
    "dbPreRequest",
    "function run before each request",
    text,
    { aliases: ["pre-request"] },
  ),
  spec(
    "db-prepared-statements",
    "dbPreparedStatements",
    "use prepared statements",
    boolean,
  ),
  spec("db-root-spec", "dbRootSpec", "function that answers GET /", text, {
    aliases: ["root-spec"],
  }),
  spec(
    "db-schemas",
    "dbSchemas",
    "exposed schemas, comma separated; the first is the default",
    schemas,
    { aliases: ["db-schema"] },
  ),
  spec("db-tx-end", "dbTxEnd", TX_END.join(" | "), oneOf(TX_END)),
  spec("db-uri", "dbUri", "libpq URI or key=value string, or @file", text, {
    sensitive: true,
  }),
  spec("jwt-aud", "jwtAud", "expected JWT audience", audience),
  spec(
    "jwt-cache-max-entries",
    "jwtCacheMaxEntries",
    "JWT cache size (0 disables)",
    nonNegativeInt,
  ),
  spec(
    "jwt-role-claim-key",
    "jwtRoleClaimKey",
    "JSON path of the role claim",
    text,
    { aliases: ["role-claim-key"] },
  ),
  spec(
    "jwt-secret",
    "jwtSecret",
    "secret (>= 32 chars), JWK or JWKS JSON, or @file",
    text,
    { sensitive: true },
  ),
  spec(
    "jwt-secret-is-base64",
    "jwtSecretIsBase64",
    "jwt-secret is base64 encoded",
    boolean,
    { aliases: ["secret-is-base64"] },
  ),
  spec("log-level", "logLevel", LOG_LEVEL.join(" | "), oneOf(LOG_LEVEL)),
  spec(
    "openapi-mode",
    "openapiMode",
    OPENAPI_MODE.join(" | "),
    oneOf(OPENAPI_MODE),
  ),
  spec(
    "openapi-security-active",
    "openapiSecurityActive",
    "add securityDefinitions to the spec",
    boolean,
  ),
  spec(
    "openapi-server-proxy-uri",
    "openapiServerProxyUri",
    "base URL in the OpenAPI spec",
    proxyUri,
  ),
  spec(
    "server-cors-allowed-origins",
    "serverCorsAllowedOrigins",
    "allowed CORS origins, comma separated (unset: any)",
    list,
  ),
  spec(
    "server-header-read-timeout",
    "serverHeaderReadTimeout",
    "seconds for a connection's first header section and of idleness (pgrest; 0: no connection guard)",
    timeoutSeconds,
  ),
  spec(
    "server-max-connections",
    "serverMaxConnections",
    "connections open at once, with the connection guard (pgrest; 0: no limit)",
    nonNegativeInt,
  ),
  spec(
    "server-max-body-bytes",
    "serverMaxBodyBytes",
    "largest request body in bytes (pgrest)",
    positiveInt,
  ),
  spec(
    "server-max-concurrent-requests",
    "serverMaxConcurrentRequests",
    "requests handled at once, 503 beyond (pgrest; 0: no limit)",
    nonNegativeInt,
  ),
  spec(
    "server-max-embed-depth",
    "serverMaxEmbedDepth",
    "deepest nesting of embeds in select (pgrest)",
    positiveInt,
  ),
  spec(
    "server-max-header-bytes",
    "serverMaxHeaderBytes",
    "largest request header section in bytes (pgrest)",
    positiveInt,
  ),
  spec(
    "server-max-select-items",
    "serverMaxSelectItems",
    "most items in select, embeds included (pgrest)",
    positiveInt,
  ),
  spec(
    "server-max-url-length",
    "serverMaxUrlLength",
    "longest path and query string in characters (pgrest)",
    positiveInt,
  ),
  spec(
    "server-request-timeout",
    "serverRequestTimeout",
    "seconds a request may take, 504 after (pgrest; 0: no limit)",
    timeoutSeconds,
  ),
  spec(
    "server-host",
    "serverHost",
    "bind address (!4, *4, !6, *6, * or a host)",
    text,
  ),
  spec("server-port", "serverPort", "HTTP port (0: random)", port),
  spec(
    "server-reuseport",
    "serverReuseport",
    "SO_REUSEPORT, for zero-downtime handover",
    boolean,
  ),
  spec(
    "server-tls-cert",
    "serverTlsCert",
    "PEM certificate file: serve HTTPS (and HTTP/2)",
    text,
  ),
  spec("server-tls-key", "serverTlsKey", "PEM private key file", text),
  spec(
    "server-unix-socket",
    "serverUnixSocket",
    "listen on this unix socket instead of host and port",
    text,
  ),
  spec(
    "server-unix-socket-mode",
    "serverUnixSocketMode",
    "unix socket permissions (octal)",
    socketMode,
  ),
  spec(
    "server-timing-enabled",
    "serverTimingEnabled",
    "send Server-Timing",
    boolean,
  ),
  spec(
    "server-trace-header",
    "serverTraceHeader",
    "request header echoed in responses",
    text,
  ),
  spec(
    "url-use-legacy-target-names",
    "urlUseLegacyTargetNames",
    "embed targets by name despite aliases",
    boolean,
  ),
];

/** PostgREST keys pgrest recognises but does not implement. */
const UNSUPPORTED_KEYS: readonly string[] = [
  "admin-server-unix-socket",
  "admin-server-unix-socket-mode",
  "db-timezone-enabled",
  "server-otel-enabled",
];

/**
 * The keys in-database configuration may set: PostgREST's list
 * (`dbSettingsNames` of its Config/Database.hs); `app.settings.*` too.
 */
export const IN_DATABASE_KEYS: readonly string[] = [
  "db-aggregates-enabled",
  "client-error-verbosity",
  "db-anon-role",
  "db-pre-config",
  "db-extra-search-path",
  "db-max-rows",
  "db-plan-enabled",
  "db-pre-request",
  "db-prepared-statements",
  "db-root-spec",
  "db-schemas",
  "db-timezone-enabled",
  "db-tx-end",
  "db-hoisted-tx-settings",
  "jwt-aud",
  "jwt-role-claim-key",
  "jwt-secret",
  "jwt-secret-is-base64",
  "jwt-cache-max-lifetime",
  "openapi-mode",
  "openapi-security-active",
  "openapi-server-proxy-uri",
  "server-cors-allowed-origins",
  "server-trace-header",
  "server-timing-enabled",
];
const DB_SETTABLE: ReadonlySet<string> = new Set(IN_DATABASE_KEYS);

/** `pgrst.db_max_rows` for `db-max-rows`: the role setting of a key. */
export function settingName(key: string): string {
  return `pgrst.${key.replaceAll("-", "_")}`;
}

const APP_SETTINGS_PREFIX = "app.settings.";
const APP_SETTINGS_ENV_PREFIX = "PGRST_APP_SETTINGS_";

/** `db-pool` → `PGRST_DB_POOL`. */
function envName(key: string): string {
  return "PGRST_" + key.toUpperCase().replace(/[-.]/g, "_");
}

interface NameEntry {
  readonly spec: KeySpec;
  readonly isAlias: boolean;
}

const BY_NAME: ReadonlyMap<string, NameEntry> = new Map(
  SPECS.flatMap((s): [string, NameEntry][] => [
    [s.key, { spec: s, isAlias: false }],
    ...s.aliases.map((
      a,
    ): [string, NameEntry] => [a, { spec: s, isAlias: true }]),
  ]),
);

const BY_ENV_NAME: ReadonlyMap<string, NameEntry> = new Map(
  [...BY_NAME].map(([name, entry]) => [envName(name), entry] as const),
);

const UNSUPPORTED_ENV: ReadonlySet<string> = new Set(
  UNSUPPORTED_KEYS.map(envName),
);

// ---------------------------------------------------------------- one source

/** The values one source sets, by canonical key, canonical names first. */
class SourceValues {
  readonly #values = new Map<
    string,
    { raw: RawValue; isAlias: boolean; name: string }
  >();
  readonly #warnings: string[];

  constructor(warnings: string[]) {
    this.#warnings = warnings;
  }

  set(entry: NameEntry, name: string, raw: RawValue): void {
    const key = entry.spec.key;
    const old = this.#values.get(key);
    if (old !== undefined && old.isAlias !== entry.isAlias) {
      const [current, legacy] = entry.isAlias
        ? [old.name, name]
        : [name, old.name];
      this.#warnings.push(
        `Both ${current} and its old name ${legacy} are set (${raw.where}); using ${current}`,
      );
      if (entry.isAlias) return;
    } else if (old !== undefined) {
      this.#warnings.push(
        `${name} is set twice (${raw.where}); using the last value`,
      );
    }
    this.#values.set(key, { raw, isAlias: entry.isAlias, name });
  }

  get(key: string): RawValue | undefined {
    return this.#values.get(key)?.raw;
  }
}

// ---------------------------------------------------------------- command line

interface CliFlag {
  readonly long: string;
  readonly short: string | null;
  /** The config key it sets, or a special meaning. */
  readonly target: string | "config" | "help" | "version" | "action";
  /** Placeholder for the value, or null for a switch. */
  readonly arg: string | null;
  readonly doc: string;
}

const CLI_FLAGS: readonly CliFlag[] = [
  {
    long: "anonymous",
    short: "a",
    target: "db-anon-role",
    arg: "ROLE",
    doc: "db-anon-role",
  },
  {
    long: "jwt-secret",
    short: "j",
    target: "jwt-secret",
    arg: "SECRET",
    doc: "jwt-secret (@FILE reads it from a file)",
  },
  {
    long: "schema",
    short: "s",
    target: "db-schemas",
    arg: "SCHEMAS",
    doc: "db-schemas, comma separated",
  },
  {
    long: "host",
    short: null,
    target: "server-host",
    arg: "HOST",
    doc: "server-host",
  },
  {
    long: "port",
    short: "p",
    target: "server-port",
    arg: "PORT",
    doc: "server-port",
  },
  { long: "pool", short: "o", target: "db-pool", arg: "N", doc: "db-pool" },
  {
    long: "max-rows",
    short: "m",
    target: "db-max-rows",
    arg: "N",
    doc: "db-max-rows",
  },
  {
    long: "pool-timeout",
    short: null,
    target: "db-pool-max-idletime",
    arg: "SECONDS",
    doc: "db-pool-max-idletime",
  },
  {
    long: "config",
    short: "c",
    target: "config",
    arg: "FILE",
    doc: "read this config file",
  },
  {
    long: "help",
    short: "h",
    target: "help",
    arg: null,
    doc: "print this help and exit",
  },
  {
    long: "version",
    short: "v",
    target: "version",
    arg: null,
    doc: "print the version and exit",
  },
  {
    long: "example",
    short: null,
    target: "action",
    arg: null,
    doc: "print an example config file and exit",
  },
  {
    long: "dump-config",
    short: null,
    target: "action",
    arg: null,
    doc: "print the effective configuration (secrets redacted) and exit",
  },
  {
    long: "dump-schema",
    short: null,
    target: "action",
    arg: null,
    doc: "print the schema cache as JSON and exit",
  },
  {
    long: "ready",
    short: null,
    target: "action",
    arg: null,
    doc: "exit 0 when the admin server's /ready answers 200, else 1",
  },
];

interface CliParse {
  readonly action: CliAction;
  readonly configPath: string | null;
  /** Values by config key. */
  readonly values: ReadonlyMap<string, RawValue>;
}

/** libpq `recognized_connection_string`: a URI or `key=value` pairs. */
function isConnectionString(arg: string): boolean {
  return arg.startsWith("postgresql://") || arg.startsWith("postgres://") ||
    arg.includes("=");
}

/** @throws {ConfigError} on an unknown option, a missing value or extra arguments */
function parseCli(args: readonly string[]): CliParse {
  const values = new Map<string, RawValue>();
  let configPath: string | null = null;
  let action: CliAction = "run";
  let positionalUri = false;
  let positionalFile = false;
  let onlyPositional = false;

  function setConfigPath(path: string, how: string): void {
    if (configPath !== null) {
      throw new ConfigError(
        `Two config files given: "${configPath}" and "${path}" (${how})`,
      );
    }
    configPath = path;
  }

  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (onlyPositional || arg === "-" || !arg.startsWith("-")) {
      if (isConnectionString(arg)) {
        if (positionalUri) {
          throw new ConfigError(
            "Unexpected argument: only one database URI may be given",
          );
        }
        positionalUri = true;
        values.set("db-uri", { text: arg, where: "command-line argument" });
      } else {
        if (positionalFile) {
          throw new ConfigError(
            `Unexpected argument "${arg}": only one config file may be given`,
          );
        }
        positionalFile = true;
        setConfigPath(arg, "command-line argument");
      }
      continue;
    }
    if (arg === "--") {
      onlyPositional = true;
      continue;
    }
    let flag: CliFlag | undefined;
    let inline: string | undefined;
    let written: string;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      written = eq === -1 ? arg : arg.slice(0, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      flag = CLI_FLAGS.find((f) => "--" + f.long === written);
    } else {
      written = arg.slice(0, 2);
      const rest = arg.slice(2);
      inline = rest === ""
        ? undefined
        : rest.startsWith("=")
        ? rest.slice(1)
        : rest;
      flag = CLI_FLAGS.find((f) =>
        f.short !== null && "-" + f.short === written
      );
    }
    if (flag === undefined) {
      throw new ConfigError(
        `Unknown option ${JSON.stringify(written)}: see --help`,
      );
    }
    let value: string | undefined;
    if (flag.arg === null) {
      if (inline !== undefined) {
        throw new ConfigError(`Option ${written} takes no value`);
      }
    } else {
      value = inline ?? args[++i];
      if (value === undefined) {
        throw new ConfigError(
          `Missing value for option ${written} (${flag.arg})`,
        );
      }
    }
    switch (flag.target) {
      case "help":
        action = "help";
        break;
      case "version":
        if (action !== "help") action = "version";
        break;
      case "action":
        if (action === "run") {
          action = flag.long === "example"
            ? "example"
            : flag.long === "dump-config"
            ? "dump-config"
            : flag.long === "dump-schema"
            ? "dump-schema"
            : "ready";
        }
        break;
      case "config":
        setConfigPath(value ?? "", written);
        break;
      default:
        values.set(flag.target, { text: value ?? "", where: written });
    }
  }
  return { action, configPath, values };
}

/**
 * Tells whether the command line asks for `--help` or `--version`, so that
 * they work even when the rest of the configuration is invalid.
 *
 * @throws {ConfigError} on an unknown option or a missing option value
 */
export function cliAction(args: readonly string[]): CliAction {
  return parseCli(args).action;
}

// ---------------------------------------------------------------- config file

interface FileEntry {
  readonly key: string;
  readonly text: string;
  readonly line: number;
}

const KEY_START = /[A-Za-z]/;
const KEY_CHAR = /[A-Za-z0-9_.-]/;
const NUMBER = /^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?/;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  n: "\n",
  r: "\r",
  t: "\t",
  b: "\b",
  f: "\f",
};

/**
 * Parses PostgREST's config syntax (Haskell `configurator`): `key = value`
 * bindings, where a value is a double-quoted string (escapes `\"`, `\\`,
 * `\n`, `\t`, `\uXXXX`…; `$(NAME)` expands an environment variable and `$$`
 * is `$`), a number, or `true`/`false`/`on`/`off`; `#` starts a comment.
 *
 * @throws {ConfigError} naming the line of a syntax error
 */
function parseConfigFile(
  source: string,
  label: string,
  lookupEnv: (name: string) => string | undefined,
): FileEntry[] {
  const entries: FileEntry[] = [];
  let pos = 0;
  let line = 1;

  function fail(reason: string): never {
    throw new ConfigError(`Cannot parse ${label} line ${line}: ${reason}`);
  }
  function peek(): string {
    return source[pos] ?? "";
  }
  function skipBlanks(newlines: boolean): void {
    while (pos < source.length) {
      const c = peek();
      if (c === "\n") {
        if (!newlines) return;
        line++;
        pos++;
      } else if (c === " " || c === "\t" || c === "\r") {
        pos++;
      } else if (c === "#") {
        while (pos < source.length && peek() !== "\n") pos++;
      } else {
        return;
      }
    }
  }
  function readString(): string {
    pos++; // opening quote
    let out = "";
    for (;;) {
      if (pos >= source.length) fail("unterminated string");
      const c = peek();
      pos++;
      if (c === '"') return out;
      if (c === "\n") line++;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = peek();
      pos++;
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
      } else if (
        e === "u" && /^[0-9A-Fa-f]{4}$/.test(source.slice(pos, pos + 4))
      ) {
        out += String.fromCharCode(parseInt(source.slice(pos, pos + 4), 16));
        pos += 4;
      } else {
        fail(`unknown escape "\\${e}" in string`);
      }
    }
  }
  function interpolate(s: string): string {
    let out = "";
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c !== "$") {
        out += c;
        continue;
      }
      if (s[i + 1] === "$") {
        out += "$";
        i++;
      } else if (s[i + 1] === "(") {
        const close = s.indexOf(")", i + 2);
        if (close === -1 || close === i + 2) {
          fail('"$(" without a variable name and ")"');
        }
        const name = s.slice(i + 2, close);
        const value = lookupEnv(name);
        if (value === undefined) {
          fail(`environment variable "${name}" is not set`);
        }
        out += value;
        i = close;
      } else {
        fail(
          '"$" must be written "$$" (or "$(NAME)" for an environment variable)',
        );
      }
    }
    return out;
  }

  for (;;) {
    skipBlanks(true);
    if (pos >= source.length) return entries;
    const keyLine = line;
    if (!KEY_START.test(peek())) {
      fail(`expected a key, found ${JSON.stringify(peek())}`);
    }
    const start = pos;
    while (pos < source.length && KEY_CHAR.test(peek())) pos++;
    const key = source.slice(start, pos);
    skipBlanks(false);
    if (peek() !== "=") fail(`expected "=" after ${JSON.stringify(key)}`);
    pos++;
    skipBlanks(false);
    let value: string;
    const c = peek();
    const rest = source.slice(pos);
    const number = NUMBER.exec(rest);
    const word = /^[A-Za-z]\w*/.exec(rest);
    if (c === '"') {
      value = interpolate(readString());
    } else if (number !== null) {
      value = number[0];
      pos += value.length;
    } else if (
      word !== null && ["true", "false", "on", "off"].includes(word[0])
    ) {
      value = word[0] === "on" ? "true" : word[0] === "off" ? "false" : word[0];
      pos += word[0].length;
    } else if (c === "" || c === "\n" || c === "#") {
      fail(`missing value for ${JSON.stringify(key)}`);
    } else {
      fail(
        `the value of ${
          JSON.stringify(key)
        } must be a "quoted string", a number, or true/false`,
      );
    }
    skipBlanks(false);
    if (pos < source.length && peek() !== "\n") {
      fail(
        `unexpected ${JSON.stringify(peek())} after the value of ${
          JSON.stringify(key)
        }`,
      );
    }
    entries.push({ key, text: value, line: keyLine });
  }
}

// ---------------------------------------------------------------- secrets

function readValueFile(
  readFile: ((path: string) => string) | undefined,
  key: string,
  raw: RawValue,
  path: string,
): string {
  if (readFile === undefined) {
    throw new ConfigError(
      `Cannot read ${key} from "${path}" (${raw.where}): no file access`,
    );
  }
  try {
    return readFile(path);
  } catch (e: unknown) {
    const why = e instanceof Error ? e.message : String(e);
    throw new ConfigError(
      `Cannot read ${key} from "${path}" (${raw.where}): ${why}`,
    );
  }
}

/** The byte length of a base64 secret after PostgREST's URL-safe mapping, or null. */
function base64Length(secret: string): number | null {
  const s = secret.replaceAll(".", "=").replaceAll("-", "+").replaceAll(
    "_",
    "/",
  ).trim();
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  return (s.length / 4) * 3 - (s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0);
}

function isJsonObject(s: string): boolean {
  if (!s.trimStart().startsWith("{")) return false;
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === "object" && v !== null;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- merge

/**
 * Builds the configuration from the command line, the in-database settings
 * (`input.dbSettings`, db-config), the environment and the config file, in
 * that order of precedence, over PostgREST's defaults.
 *
 * Pure: files are read only through `input.readFile`.
 *
 * @throws {ConfigError} for an unknown option, a file syntax error, an invalid
 *   value (the message names the key and where it was set), or an unreadable
 *   `@file`
 */
export function parseConfig(input: ConfigInput): ConfigResult {
  const warnings: string[] = [];
  const cli = parseCli(input.args);
  const lookupEnv = input.lookupEnv ??
    function fromEnv(name: string): string | undefined {
      return input.env[name];
    };

  // Config file: lowest precedence.
  let fileText = input.fileText;
  if (fileText === null && cli.configPath !== null) {
    const path = cli.configPath;
    if (input.readFile === undefined) {
      throw new ConfigError(
        `Cannot read config file "${path}": no file access`,
      );
    }
    try {
      fileText = input.readFile(path);
    } catch (e: unknown) {
      const why = e instanceof Error ? e.message : String(e);
      throw new ConfigError(`Cannot read config file "${path}": ${why}`);
    }
  }
  const fileLabel = cli.configPath ?? "config file";
  const fromFile = new SourceValues(warnings);
  const appSettings = new Map<string, string>();
  if (fileText !== null) {
    for (const entry of parseConfigFile(fileText, fileLabel, lookupEnv)) {
      const where = `${fileLabel} line ${entry.line}`;
      const known = BY_NAME.get(entry.key);
      if (known !== undefined) {
        fromFile.set(known, entry.key, { text: entry.text, where });
      } else if (entry.key.startsWith(APP_SETTINGS_PREFIX)) {
        const name = entry.key.slice(APP_SETTINGS_PREFIX.length).toLowerCase();
        if (name === "") {
          warnings.push(`Ignoring "${entry.key}" without a name (${where})`);
        } else appSettings.set(name, entry.text);
      } else if (UNSUPPORTED_KEYS.includes(entry.key)) {
        warnings.push(
          `Ignoring ${entry.key} (${where}): pgrest does not support it`,
        );
      } else {
        warnings.push(`Ignoring unknown config key "${entry.key}" (${where})`);
      }
    }
  }

  // Environment: PGRST_* only.
  const fromEnv = new SourceValues(warnings);
  for (const name of Object.keys(input.env).sort()) {
    const value = input.env[name];
    if (value === undefined || !name.startsWith("PGRST_")) continue;
    const known = BY_ENV_NAME.get(name);
    if (known !== undefined) {
      fromEnv.set(known, name, { text: value, where: name });
    } else if (name.startsWith(APP_SETTINGS_ENV_PREFIX)) {
      // PostgREST keeps the case (app.settings.FOO); PostgreSQL setting
      // names are case-insensitive, so lower-casing loses nothing and lets
      // the variable override the file's app.settings.foo.
      const key = name.slice(APP_SETTINGS_ENV_PREFIX.length).toLowerCase();
      if (key !== "") appSettings.set(key, value);
    } else if (UNSUPPORTED_ENV.has(name)) {
      warnings.push(`Ignoring ${name}: pgrest does not support it`);
    } else {
      warnings.push(`Ignoring unknown environment variable ${name}`);
    }
  }

  // In-database settings (db-config): above the file and the environment,
  // as in PostgREST (its app.settings.* already came last, above both).
  const fromDb = new SourceValues(warnings);
  for (const [key, value] of Object.entries(input.dbSettings ?? {})) {
    const known = BY_NAME.get(key);
    if (known !== undefined && !DB_SETTABLE.has(key)) {
      // the database may not change how the server is run (its URI, port,
      // limits, logging): only the keys PostgREST reads from it
      warnings.push(
        `Ignoring in-database setting pgrst.${
          key.replaceAll("-", "_")
        }: it can only be set in the config file or the environment`,
      );
    } else if (known !== undefined) {
      fromDb.set(known, key, {
        text: value,
        where: `pgrst.${key} role setting`,
      });
    } else if (key.startsWith(APP_SETTINGS_PREFIX)) {
      appSettings.set(
        key.slice(APP_SETTINGS_PREFIX.length).toLowerCase(),
        value,
      );
    }
  }

  // Resolve each key: command line > database > environment > file >
  // default (PostgREST has no per-key command-line options).
  const config: MutableConfig = { ...DEFAULT_CONFIG };
  const chosen = new Map<string, RawValue>();
  for (const s of SPECS) {
    const raw = cli.values.get(s.key) ?? fromDb.get(s.key) ??
      fromEnv.get(s.key) ?? fromFile.get(s.key);
    if (raw === undefined) continue;
    s.apply(config, raw);
    chosen.set(s.key, raw);
  }
  config.appSettings = Object.fromEntries(
    [...appSettings].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );

  // @file expansion.
  const uriRaw = chosen.get("db-uri");
  if (uriRaw !== undefined && config.dbUri.startsWith("@")) {
    config.dbUri = readValueFile(
      input.readFile,
      "db-uri",
      uriRaw,
      config.dbUri.slice(1),
    )
      .trim();
    if (config.dbUri === "") config.dbUri = DEFAULT_CONFIG.dbUri;
  }
  const secretRaw = chosen.get("jwt-secret");
  if (secretRaw !== undefined && config.jwtSecret !== null) {
    if (config.jwtSecret.startsWith("@")) {
      const read = readValueFile(
        input.readFile,
        "jwt-secret",
        secretRaw,
        config.jwtSecret.slice(1),
      );
      config.jwtSecret = read.endsWith("\r\n")
        ? read.slice(0, -2)
        : read.endsWith("\n")
        ? read.slice(0, -1)
        : read;
      if (config.jwtSecret === "") config.jwtSecret = null;
    }
  }

  // Cross-key checks.
  if (secretRaw !== undefined && config.jwtSecret !== null) {
    let bytes: number | null;
    if (config.jwtSecretIsBase64) {
      bytes = base64Length(config.jwtSecret);
      if (bytes === null) {
        throw invalidValue(
          "jwt-secret",
          secretRaw,
          true,
          "is not valid base64 (jwt-secret-is-base64 is true)",
        );
      }
    } else if (/^https?:\/\//i.test(config.jwtSecret)) {
      // Keys from an identity provider (src/auth/jwks_url.ts).
      try {
        keySetUrl(config.jwtSecret);
      } catch {
        throw invalidValue(
          "jwt-secret",
          secretRaw,
          true,
          "is not a usable key URL (https://, or http:// only on localhost, 127.0.0.1 or [::1])",
        );
      }
      bytes = null;
    } else {
      bytes = isJsonObject(config.jwtSecret)
        ? null
        : new TextEncoder().encode(config.jwtSecret).length;
    }
    if (bytes !== null && bytes < 32) {
      warnings.push(
        `WARNING: jwt-secret (${secretRaw.where}) is only ${bytes} bytes long; ` +
          "use at least 32 characters (PostgREST refuses to start with a shorter secret)",
      );
    }
  }
  const adminRaw = chosen.get("admin-server-port");
  if (adminRaw !== undefined && config.adminServerPort === config.serverPort) {
    throw invalidValue(
      "admin-server-port",
      adminRaw,
      false,
      "is the same as server-port",
    );
  }

  return { config, warnings };
}

// ---------------------------------------------------------------- effects

/**
 * Reads the `PGRST_*` environment variables and the config file named on the
 * command line, then calls {@linkcode parseConfig}. `@file` values are read
 * from disk; `$(NAME)` in the config file reads that one variable.
 *
 * @throws {ConfigError} as `parseConfig` does, or when the config file
 *   cannot be read
 */
export function loadConfig(
  args: readonly string[],
  dbSettings: Readonly<Record<string, string>> = {},
): ConfigResult {
  const env: Record<string, string> = {};
  let all: Record<string, string> = {};
  if (Deno.permissions.querySync({ name: "env" }).state === "granted") {
    all = Deno.env.toObject();
  } else {
    // Without blanket --allow-env, read the permitted names pgrest knows
    // (never prompting for the others).
    for (const name of BY_ENV_NAME.keys()) {
      const { state } = Deno.permissions.querySync({
        name: "env",
        variable: name,
      });
      const value = state === "granted" ? Deno.env.get(name) : undefined;
      if (value !== undefined) all[name] = value;
    }
  }
  for (const [name, value] of Object.entries(all)) {
    if (name.startsWith("PGRST_")) env[name] = value;
  }

  const { configPath } = parseCli(args);
  let fileText: string | null = null;
  if (configPath !== null) {
    try {
      fileText = Deno.readTextFileSync(configPath);
    } catch (e: unknown) {
      const why = e instanceof Error ? e.message : String(e);
      throw new ConfigError(`Cannot read config file "${configPath}": ${why}`);
    }
  }

  return parseConfig({
    args,
    env,
    fileText,
    readFile: readTextFile,
    lookupEnv: getEnv,
    dbSettings,
  });
}

function readTextFile(path: string): string {
  return Deno.readTextFileSync(path);
}

function getEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (e: unknown) {
    const why = e instanceof Error ? e.message : String(e);
    throw new ConfigError(`Cannot read environment variable "${name}": ${why}`);
  }
}

// ---------------------------------------------------------------- help

function showDefault(value: Config[keyof Config]): string {
  if (value === null) return "unset";
  if (Array.isArray(value)) return JSON.stringify(value.join(","));
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

/** The `--help` text: arguments, every flag, the precedence and every key. */
export function usage(): string {
  const flags = CLI_FLAGS.map((f) => {
    const names = (f.short !== null ? `-${f.short}, ` : "    ") +
      `--${f.long}` +
      (f.arg !== null ? ` ${f.arg}` : "");
    return `  ${names.padEnd(30)} ${f.doc}`;
  });
  const keys = SPECS.map((s) => {
    const aliases = s.aliases.length > 0
      ? ` (old name: ${s.aliases.join(", ")})`
      : "";
    return `  ${s.key.padEnd(28)} ${s.doc}; default ${
      showDefault(DEFAULT_CONFIG[s.field])
    }${aliases}`;
  });
  return [
    "Usage: pgrest [DB_URI | CONFIG_FILE] [OPTIONS]",
    "",
    "Serves a PostgREST-compatible REST API for a PostgreSQL database.",
    "",
    "Arguments:",
    "  DB_URI       a postgres:// or postgresql:// URI, or libpq key=value pairs (db-uri)",
    '  CONFIG_FILE  a PostgREST config file: key = "value" lines, # comments',
    "",
    "Options:",
    ...flags,
    "",
    "Precedence, highest first: command-line options > in-database settings",
    "(db-config) > PGRST_* environment variables > config file > defaults.",
    "Environment names are PGRST_ and the",
    "key upper-cased with - and . as _ (db-uri: PGRST_DB_URI);",
    "PGRST_APP_SETTINGS_FOO sets app.settings.foo. An empty value means the",
    "default. jwt-secret and db-uri may be @/path/to/file.",
    "",
    "Config keys:",
    ...keys,
    "  app.settings.*               values for current_setting('app.settings.*')",
    "",
  ].join("\n");
}
