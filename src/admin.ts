/**
 * Owns the admin server (`admin-server-port`): `/live` (the process is up),
 * `/ready` (503 while the schema cache is not loaded or the database does
 * not answer within a second; only a connection failure marks it down),
 * `/config` (the effective configuration, secrets redacted), `/schema_cache`
 * (a summary) and `/metrics` (Prometheus text).
 *
 * @module
 */

import { type AppState, isConnectionFailure } from "./app.ts";
import type { Config } from "./config/types.ts";
import type { SchemaCache } from "./schema_cache/types.ts";

const REDACTED = "<redacted>";

/** A connection string without its password (URI or key=value form). */
export function redactUri(uri: string): string {
  return uri
    .replace(/\/\/([^:@/]*):[^@]*@/, `//$1:${REDACTED}@`)
    .replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, `$1${REDACTED}`);
}

/** The effective configuration as PostgREST config text, secrets redacted. */
export function configText(config: Config): string {
  const lines: string[] = [];
  const put = (k: string, v: unknown) => {
    if (v === null) return;
    const text = Array.isArray(v) ? v.join(",") : String(v);
    lines.push(`${k} = ${JSON.stringify(text)}`);
  };
  put("db-uri", redactUri(config.dbUri));
  put("db-schemas", config.dbSchemas);
  put("db-anon-role", config.dbAnonRole);
  put("db-extra-search-path", config.dbExtraSearchPath);
  put("db-max-rows", config.dbMaxRows);
  put("db-pool", config.dbPool);
  put("db-pool-acquisition-timeout", config.dbPoolAcquisitionTimeout);
  put("db-pre-request", config.dbPreRequest);
  put("db-tx-end", config.dbTxEnd);
  put("db-channel", config.dbChannel);
  put("db-channel-enabled", config.dbChannelEnabled);
  put("jwt-secret", config.jwtSecret === null ? null : REDACTED);
  put("jwt-aud", config.jwtAud);
  put("jwt-role-claim-key", config.jwtRoleClaimKey);
  put("server-host", config.serverHost);
  put("server-port", config.serverPort);
  put("server-unix-socket", config.serverUnixSocket);
  put("server-cors-allowed-origins", config.serverCorsAllowedOrigins);
  put("server-max-body-bytes", config.serverMaxBodyBytes);
  put("server-max-url-length", config.serverMaxUrlLength);
  put("server-max-header-bytes", config.serverMaxHeaderBytes);
  put("server-max-embed-depth", config.serverMaxEmbedDepth);
  put("server-max-select-items", config.serverMaxSelectItems);
  put("server-request-timeout", config.serverRequestTimeout);
  put("server-max-concurrent-requests", config.serverMaxConcurrentRequests);
  put("server-header-read-timeout", config.serverHeaderReadTimeout);
  put("server-max-connections", config.serverMaxConnections);
  put("client-error-verbosity", config.clientErrorVerbosity);
  put("log-level", config.logLevel);
  for (const [k, v] of Object.entries(config.appSettings)) {
    put(`app.settings.${k}`, v);
  }
  return lines.join("\n") + "\n";
}

/** The schema cache as JSON (for `/schema_cache` and `--dump-schema`). */
export function schemaJson(c: SchemaCache): string {
  return JSON.stringify({
    tables: [...c.tables.values()].map((t) => ({
      schema: t.schema,
      name: t.name,
      isView: t.isView,
      primaryKey: t.primaryKey,
      columns: t.columns.map((col) => ({
        name: col.name,
        type: col.type,
        nullable: col.nullable,
      })),
    })),
    relationships: c.foreignKeys,
    functions: [...c.routines.values()].flat().map((r) => ({
      schema: r.schema,
      name: r.name,
      params: r.params,
      returns: `${r.returnTypeSchema}.${r.returnTypeName}`,
      set: r.returnsSet,
    })),
  });
}

/** The admin request handler. */
export function makeAdminHandler(
  state: AppState,
): (req: Request) => Promise<Response> {
  /**
   * Whether the database answers `select 1` within a second. Only a
   * connection failure marks it down (`onConnectionError`), also when it
   * comes after the second: a probe that found every pool connection busy
   * (a pool timeout, or the second over) says not ready, but the database
   * is up, and requests that time out on the pool still get 504 PGRST003.
   */
  async function databaseUp(): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const probe = state.db.query("select 1", []).then(
      () => true,
      (e: unknown) => {
        if (isConnectionFailure(e)) state.onConnectionError();
        return false;
      },
    );
    try {
      return await Promise.race([
        probe,
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), 1000);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
  return async function admin(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    const text = (
      body: string,
      status = 200,
      type = "text/plain; charset=utf-8",
    ) => new Response(body, { status, headers: { "Content-Type": type } });
    switch (path) {
      case "/live":
        return new Response(null, { status: 200 });
      case "/ready": {
        // a cache not loaded yet is being loaded (with retries) already
        const up = state.cache !== null && await databaseUp();
        return new Response(null, { status: up ? 200 : 503 });
      }
      case "/config":
        return text(configText(state.config));
      case "/schema_cache": {
        const c = state.cache;
        if (c === null) return new Response(null, { status: 503 });
        const body = {
          tables: [...c.tables.values()].map((t) => `${t.schema}.${t.name}`),
          relationships: c.foreignKeys.length,
          functions: [...c.routines.values()].flat().map((r) =>
            `${r.schema}.${r.name}`
          ),
        };
        return text(
          JSON.stringify(body),
          200,
          "application/json; charset=utf-8",
        );
      }
      case "/metrics": {
        const stats = state.db.stats();
        const m = state.metrics;
        m.poolMax = stats.max;
        m.poolInUse = stats.inUse;
        m.poolWaiting = stats.waiting;
        m.poolTimeouts = stats.timeouts;
        const auth = state.auth as {
          cacheSize?: unknown;
          cacheHits?: unknown;
          cacheMisses?: unknown;
        };
        const n = (v: unknown) => typeof v === "number" ? v : 0;
        m.jwtCacheEntries = n(auth.cacheSize);
        m.jwtCacheHits = n(auth.cacheHits);
        m.jwtCacheMisses = n(auth.cacheMisses);
        return text(
          m.render(),
          200,
          "text/plain; version=0.0.4; charset=utf-8",
        );
      }
      default:
        return new Response(null, { status: 404 });
    }
  };
}
