/**
 * Owns the `Config` type: every PostgREST configuration key pgrest reads,
 * already validated and typed, and the defaults PostgREST documents.
 *
 * @module
 */

export type TxEnd =
  | "commit"
  | "commit-allow-override"
  | "rollback"
  | "rollback-allow-override";

export type LogLevel = "crit" | "error" | "warn" | "info" | "debug";

export type OpenApiMode =
  | "follow-privileges"
  | "ignore-privileges"
  | "disabled";

/** The validated configuration. */
export interface Config {
  readonly dbUri: string;
  /** Exposed schemas, in order; the first is the default. */
  readonly dbSchemas: readonly string[];
  readonly dbAnonRole: string | null;
  readonly dbExtraSearchPath: readonly string[];
  readonly dbMaxRows: number | null;
  readonly dbPool: number;
  readonly dbPoolAcquisitionTimeout: number;
  readonly dbPoolMaxLifetime: number;
  readonly dbPoolMaxIdletime: number;
  /**
   * Requests that may share one busy connection, their transactions
   * pipelined (pgrest's own key, `db-pool-pipeline`); 1: none.
   */
  readonly dbPoolPipeline: number;
  readonly dbPreRequest: string | null;
  readonly dbPreparedStatements: boolean;
  readonly dbTxEnd: TxEnd;
  readonly dbAggregatesEnabled: boolean;
  readonly dbPlanEnabled: boolean;
  readonly dbRootSpec: string | null;
  readonly dbConfig: boolean;
  readonly dbPreConfig: string | null;
  readonly dbChannel: string;
  readonly dbChannelEnabled: boolean;
  readonly dbHoistedTxSettings: readonly string[];
  /** The secret as given (text, JWK or JWKS JSON), after @file expansion. */
  readonly jwtSecret: string | null;
  readonly jwtSecretIsBase64: boolean;
  readonly jwtAud: string | null;
  /** `jwt-role-claim-key` as written, e.g. `.role` or `.postgrest.roles[0]`. */
  readonly jwtRoleClaimKey: string;
  readonly jwtCacheMaxEntries: number;
  readonly serverHost: string;
  readonly serverPort: number;
  /** Listen on this unix socket instead of host/port. */
  readonly serverUnixSocket: string | null;
  /** Permissions of the unix socket, octal text (PostgREST default 660). */
  readonly serverUnixSocketMode: string;
  readonly serverReuseport: boolean;
  /** PEM files for HTTPS (HTTP/2 is negotiated with ALPN). */
  readonly serverTlsCert: string | null;
  readonly serverTlsKey: string | null;
  readonly dbPoolAutomaticRecovery: boolean;
  readonly serverTimingEnabled: boolean;
  readonly serverTraceHeader: string | null;
  readonly serverCorsAllowedOrigins: readonly string[] | null;
  /** Request body bytes (413 PGRST150 beyond; pgrest's extension). */
  readonly serverMaxBodyBytes: number;
  /** Characters of path and query string (414 PGRST151 beyond). */
  readonly serverMaxUrlLength: number;
  /** Bytes of request header names and values (431 PGRST153 beyond). */
  readonly serverMaxHeaderBytes: number;
  /** Levels of nested embedding in `select` (400 PGRST152 beyond). */
  readonly serverMaxEmbedDepth: number;
  /** Items of `select`, embeds included (400 PGRST152 beyond). */
  readonly serverMaxSelectItems: number;
  /**
   * Seconds a request may take (504 PGRST154 after; also caps the
   * transaction's `statement_timeout`); 0 means no limit.
   */
  readonly serverRequestTimeout: number;
  /** Requests handled at once (503 PGRST155 beyond); 0 means no limit. */
  readonly serverMaxConcurrentRequests: number;
  /**
   * Seconds for the first request's header section and for an idle
   * connection, enforced by the connection guard (0: no guard).
   */
  readonly serverHeaderReadTimeout: number;
  /** Connections open at once, with the connection guard (0: no limit). */
  readonly serverMaxConnections: number;
  readonly adminServerPort: number | null;
  readonly adminServerHost: string | null;
  readonly logLevel: LogLevel;
  /** `main-query` logs each request's main SQL statement (never parameters). */
  readonly logQuery: "disabled" | "main-query";
  readonly openapiMode: OpenApiMode;
  readonly openapiSecurityActive: boolean;
  readonly openapiServerProxyUri: string | null;
  readonly clientErrorVerbosity: "verbose" | "minimal";
  readonly urlUseLegacyTargetNames: boolean;
  /** `app.settings.*` keys (without the prefix) and their values. */
  readonly appSettings: Readonly<Record<string, string>>;
}

/** PostgREST's defaults for every key. */
export const DEFAULT_CONFIG: Config = {
  dbUri: "postgresql://",
  dbSchemas: ["public"],
  dbAnonRole: null,
  dbExtraSearchPath: ["public"],
  dbMaxRows: null,
  dbPool: 10,
  dbPoolAcquisitionTimeout: 10,
  dbPoolMaxLifetime: 1800,
  dbPoolMaxIdletime: 30,
  dbPoolPipeline: 1,
  dbPreRequest: null,
  dbPreparedStatements: true,
  dbTxEnd: "commit",
  dbAggregatesEnabled: false,
  dbPlanEnabled: false,
  dbRootSpec: null,
  dbConfig: true,
  dbPreConfig: null,
  dbChannel: "pgrst",
  dbChannelEnabled: true,
  dbHoistedTxSettings: [
    "statement_timeout",
    "plan_filter.statement_cost_limit",
    "default_transaction_isolation",
  ],
  jwtSecret: null,
  jwtSecretIsBase64: false,
  jwtAud: null,
  jwtRoleClaimKey: ".role",
  jwtCacheMaxEntries: 1000,
  serverHost: "!4",
  serverPort: 3000,
  serverUnixSocket: null,
  serverUnixSocketMode: "660",
  serverReuseport: false,
  serverTlsCert: null,
  serverTlsKey: null,
  dbPoolAutomaticRecovery: true,
  serverTimingEnabled: false,
  serverTraceHeader: null,
  serverCorsAllowedOrigins: null,
  serverMaxBodyBytes: 10 * 1024 * 1024,
  serverMaxUrlLength: 16 * 1024,
  serverMaxHeaderBytes: 32 * 1024,
  serverMaxEmbedDepth: 16,
  serverMaxSelectItems: 1024,
  serverRequestTimeout: 60,
  serverMaxConcurrentRequests: 1000,
  serverHeaderReadTimeout: 0,
  serverMaxConnections: 0,
  adminServerPort: null,
  adminServerHost: null,
  logLevel: "error",
  logQuery: "disabled",
  openapiMode: "follow-privileges",
  openapiSecurityActive: false,
  openapiServerProxyUri: null,
  clientErrorVerbosity: "verbose",
  urlUseLegacyTargetNames: true,
  appSettings: {},
};
