/**
 * Owns the application's running state and its life cycle: opens the pool,
 * builds the authenticator, loads the schema cache (retrying with capped
 * backoff while the database is unreachable, so requests get 503 until it
 * is there), reloads the schema cache and the configuration (signals and
 * `NOTIFY <db-channel>`; a notification that arrives during a reload runs
 * one more reload after it), watches for the database coming back after a
 * connection failure, and closes everything on shutdown.
 *
 * @module
 */

import { bodyParser } from "./body_parser.ts";
import { IN_DATABASE_KEYS, settingName } from "./config/config.ts";
import {
  accessLog,
  type AppState,
  errorResponse,
  isConnectionFailure,
  makeHandler as makeAppHandler,
} from "./app.ts";
import { createAuthenticator, type JwtAuthenticator } from "./auth/jwt.ts";
import type { Config } from "./config/types.ts";
import { serveGuarded } from "./conn_guard.ts";
import { Deadlines } from "./deadlines.ts";
import { createDb, type Db } from "./db/pool.ts";
import { PgrstError } from "./error.ts";
import { headersTooLarge, requestTimedOut, tooManyRequests } from "./limits.ts";
import { log } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { corsHeaders } from "./response/cors.ts";
import { unsendableResponseHeader } from "./response/header_safety.ts";
import { requestHeaders } from "./request_headers.ts";
import { loadDbConfig, loadSchemaCache } from "./schema_cache/load.ts";
import type { SchemaCache } from "./schema_cache/types.ts";

/** A request handler as `Deno.serve` calls it. */
export type Handler = (
  request: Request,
  info?: { remoteAddr: Deno.Addr },
) => Promise<Response>;

/** A limit's error as a response, with the CORS headers of the request. */
function limitResponse(
  e: PgrstError,
  request: Request,
  config: Config,
): Response {
  const r = errorResponse(e, config);
  const headers: [string, string][] = [
    ...corsHeaders(
      request.method,
      request.headers,
      config.serverCorsAllowedOrigins,
    ),
    ...r.headers.map(([k, v]): [string, string] => [k, v]),
  ];
  const body = request.method === "HEAD" ? null : r.body;
  return new Response(body, { status: r.status, headers });
}

/**
 * The response, or a 500 when one of its headers could not be sent: Deno
 * aborts the process on a control character in a header value, so no
 * header reaches it unchecked, wherever it came from.
 */
function sendable(res: Response, request: Request, config: Config): Response {
  const bad = unsendableResponseHeader(res);
  if (bad === null) return res;
  log("error", `internal error: unsendable header ${JSON.stringify(bad)}`);
  void res.body?.cancel().catch(() => {});
  return limitResponse(
    new PgrstError(500, "PGRSTX00", "Internal server error"),
    request,
    config,
  );
}

/**
 * Builds the HTTP handler: the application's handler behind the limits that
 * need the whole request rather than one stage of it. A header section over
 * `server-max-header-bytes` gets 431 PGRST153; beyond
 * `server-max-concurrent-requests` requests in progress a request gets 503
 * PGRST155 at once; a request running longer than `server-request-timeout`
 * gets 504 PGRST154 (its transaction's `statement_timeout` is capped at the
 * same time, so the database stops working on it too, and it keeps counting
 * against the concurrency cap until it has really finished). Every request
 * is counted in the metrics and written to the access log here, once, with
 * the status sent: an abandoned request's late answer is neither.
 */
export function makeHandler(state: AppState): Handler {
  const inner = makeAppHandler(state);
  let inFlight = 0;
  // the requests' timeouts (server-request-timeout), on one timer
  const deadlines = new Deadlines();
  /** The status counted and logged, once per request sent. */
  const sent = (
    res: Response,
    request: Request,
    info: Parameters<Handler>[1],
  ): Response => {
    state.metrics.countRequest(res.status);
    accessLog(state.config, request, info, res.status);
    return res;
  };
  /** A request refused before the application sees it. */
  const refuse = async (
    refusal: PgrstError,
    request: Request,
    info: Parameters<Handler>[1],
  ): Promise<Response> => {
    await request.body?.cancel().catch(() => {});
    return sent(limitResponse(refusal, request, state.config), request, info);
  };
  /** The application's answer, or a 500 should it ever throw. */
  const failed = (e: unknown, request: Request, config: Config): Response => {
    // the handler answers every failure itself; should it ever throw,
    // the client still gets a PostgREST-style error, never a trace
    log(
      "error",
      `internal error: ${e instanceof Error ? e.message : String(e)}`,
    );
    return limitResponse(
      new PgrstError(500, "PGRSTX00", "Internal server error"),
      request,
      config,
    );
  };
  // not an async function: it returns the answer's own promise (an async
  // function would wrap it in one more, resolved a tick later)
  return function guarded(request, info): Promise<Response> {
    try {
      const { config } = state;
      let refusal: PgrstError | null = null;
      if (
        requestHeaders(request.headers).bytes > config.serverMaxHeaderBytes
      ) {
        refusal = headersTooLarge(config.serverMaxHeaderBytes);
      } else if (
        config.serverMaxConcurrentRequests > 0 &&
        inFlight >= config.serverMaxConcurrentRequests
      ) {
        refusal = tooManyRequests(config.serverMaxConcurrentRequests);
      }
      if (refusal !== null) return refuse(refusal, request, info);
      inFlight++;
      const seconds = config.serverRequestTimeout;
      if (seconds <= 0) {
        // inFlight drops when the handler has answered (no .finally: one
        // promise fewer per request)
        return inner(request).then(
          (res) => {
            inFlight--;
            return sent(sendable(res, request, config), request, info);
          },
          (e: unknown) => {
            inFlight--;
            return sent(failed(e, request, config), request, info);
          },
        );
      }
      // whichever comes first, the answer or the deadline, is sent
      return new Promise<Response>((resolve, reject) => {
        let settled = false;
        const deadline = deadlines.add(seconds * 1000, () => {
          if (settled) return;
          settled = true;
          try {
            resolve(
              sent(
                limitResponse(requestTimedOut(seconds), request, config),
                request,
                info,
              ),
            );
          } catch (e) {
            reject(e);
          }
        });
        const answer = (res: Response): void => {
          if (settled) {
            // the abandoned work's answer is never sent: free its body
            void res.body?.cancel().catch(() => {});
            return;
          }
          settled = true;
          deadlines.delete(deadline);
          try {
            resolve(sent(res, request, info));
          } catch (e) {
            reject(e);
          }
        };
        const broke = (e: unknown): void => {
          if (settled) return;
          settled = true;
          deadlines.delete(deadline);
          reject(e);
        };
        // inFlight drops when the handler has answered (no .finally: one
        // promise fewer per request)
        inner(request).then((res) => {
          inFlight--;
          let out: Response;
          try {
            out = sendable(res, request, config);
          } catch (e) {
            return broke(e);
          }
          answer(out);
        }, (e: unknown) => {
          inFlight--;
          let out: Response;
          try {
            out = failed(e, request, config);
          } catch (e2) {
            return broke(e2);
          }
          answer(out);
        });
      });
    } catch (e) {
      return Promise.reject(e);
    }
  };
}

/** A started application. */
export interface RunningApp {
  readonly state: AppState;
  readonly hostname: string;
  /** Loads the schema cache again (signals, NOTIFY, tests). */
  reload(): Promise<void>;
  /** Loads the configuration again and applies the reloadable keys. */
  reloadConfig(): Promise<void>;
  close(): Promise<void>;
}

/** Maps PostgREST's `server-host` special values to a bind address. */
export function bindAddress(host: string): string {
  switch (host) {
    case "*":
    case "*4":
    case "!4":
      return "0.0.0.0";
    case "*6":
    case "!6":
      return "::";
    default:
      return host;
  }
}

/** Loads the schema cache once. */
export async function fetchSchemaCache(
  db: Db,
  config: Config,
): Promise<SchemaCache> {
  const version = await db.query(
    "select current_setting('server_version_num')::int as v",
    [],
  );
  const pgVersion = Number(version[0]?.["v"] ?? 0);
  return await loadSchemaCache(
    (text, params) => db.query(text, params),
    config.dbSchemas,
    pgVersion,
  );
}

/**
 * Reads `pgrst.*` settings of the authenticator role (in-database
 * configuration), keyed by PostgREST name (`db-max-rows`).
 */
export async function fetchDbSettings(
  db: Db,
  preConfig: string | null = null,
): Promise<Record<string, string>> {
  return await loadDbConfig(
    (text, params) => db.query(text, params),
    preConfig === null
      ? null
      : { fn: preConfig, names: IN_DATABASE_KEYS.map(settingName) },
  );
}

/**
 * {@linkcode fetchDbSettings} over a connection of its own, for commands
 * that do not start the server (`--dump-config`).
 */
export async function fetchDbSettingsOnce(
  config: Config,
): Promise<Record<string, string>> {
  const db = createDb({ ...config, dbPool: 1 });
  try {
    return await fetchDbSettings(db, config.dbPreConfig);
  } finally {
    await db.close();
  }
}

/** Options of `startApp`. */
export interface StartOptions {
  /** Wait up to 5 s for the first schema cache load (default true). */
  readonly waitForCache?: boolean;
  /**
   * Produces a fresh configuration on `reload config` (main.ts re-reads
   * the file and the in-database settings).
   */
  readonly loadConfig?: (db: Db) => Promise<Config>;
}

/** Starts the application state; the cache loads in the background. */
export async function startApp(
  config: Config,
  opts: StartOptions = {},
): Promise<RunningApp> {
  const db = createDb(config);
  const metrics = new Metrics();
  const auth = await createAuthenticator(config);
  const state: AppState = {
    config,
    db,
    auth,
    cache: null,
    now: () => Math.floor(Date.now() / 1000),
    metrics,
    dbDown: false,
    onConnectionError: () => {},
  };
  let closed = false;

  // ---- schema cache reloads, serialized: one more after a busy one
  let running: Promise<void> | null = null;
  let again = false;
  let loadedOnce = false;
  let loadStarted = false;
  async function loadOnce(): Promise<void> {
    const t0 = performance.now();
    loadStarted = true;
    try {
      state.cache = await fetchSchemaCache(db, state.config);
      // statements prepared for the old schema are not reused
      if (loadedOnce) db.invalidateStatements();
      loadedOnce = true;
      metrics.cacheLoads++;
      metrics.cacheLoadSeconds = (performance.now() - t0) / 1000;
      state.dbDown = false;
      log("info", "schema cache loaded", state.config.logLevel);
    } catch (e) {
      metrics.cacheLoadErrors++;
      throw e;
    }
  }
  function reload(): Promise<void> {
    if (running !== null) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await loadOnce();
        } while (again && !closed);
      } finally {
        running = null;
      }
    })();
    return running;
  }

  // ---- the first load and recovery: capped exponential backoff
  let recovering = false;
  async function recover(): Promise<void> {
    if (recovering || closed) return;
    recovering = true;
    let delay = 100;
    try {
      while (!closed) {
        try {
          await reload();
          return;
        } catch (e) {
          log(
            "error",
            `database unavailable, retrying in ${delay} ms: ${
              e instanceof Error ? e.message : String(e)
            }`,
            state.config.logLevel,
          );
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 1000);
        }
      }
    } finally {
      recovering = false;
    }
  }
  state.onConnectionError = () => {
    state.dbDown = true;
    if (state.config.dbPoolAutomaticRecovery) void recover();
  };

  // ---- configuration reloads
  async function reloadConfig(): Promise<void> {
    if (opts.loadConfig === undefined) return;
    // a bad value keeps the running configuration, whole, and says why
    let config: Config;
    let auth: JwtAuthenticator;
    try {
      const next = await opts.loadConfig(db);
      // pool, host, port and socket need a restart; the rest applies now
      config = {
        ...next,
        dbUri: state.config.dbUri,
        dbPool: state.config.dbPool,
        serverHost: state.config.serverHost,
        serverPort: state.config.serverPort,
        serverUnixSocket: state.config.serverUnixSocket,
        adminServerPort: state.config.adminServerPort,
      };
      auth = await createAuthenticator(config);
    } catch (e) {
      log(
        "error",
        `configuration not reloaded: ${e instanceof Error ? e.message : e}`,
        state.config.logLevel,
      );
      return;
    }
    const schemasBefore = state.config.dbSchemas.join(",");
    state.config = config;
    state.auth = auth;
    log("info", "configuration reloaded", state.config.logLevel);
    // the schema cache depends on the configuration only through
    // db-schemas: reload it when they changed (or it never loaded)
    if (schemasBefore !== state.config.dbSchemas.join(",") || !loadedOnce) {
      await reload();
    }
  }

  // ---- LISTEN for reload notifications
  let unlisten: (() => Promise<void>) | null = null;
  async function startListener(): Promise<void> {
    let delay = 250;
    while (!closed && state.config.dbChannelEnabled) {
      try {
        const sub = await db.listen(
          state.config.dbChannel,
          (payload) => {
            const p = payload.trim();
            if (p === "" || p === "reload schema") {
              void reload().catch(() => {});
            } else if (p === "reload config") {
              void reloadConfig().catch(() => {});
            }
          },
          // (re)connected: notifications sent meanwhile were lost; the
          // first connect comes before the first load (see below)
          () => {
            markListening();
            if (loadStarted) {
              // only a connection failure marks the database down, not a
              // load that found the pool busy; either way the load is tried
              // again until it succeeds (the notifications it replaces
              // are gone)
              void reload().catch((e: unknown) => {
                if (isConnectionFailure(e)) state.onConnectionError();
                else void recover();
              });
            }
          },
        );
        unlisten = sub.unlisten;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 4000);
      }
    }
  }

  // LISTEN before the first load (waiting at most 1 s for it): the first
  // load then sees every change that was not notified, and the listener's
  // first connect needs no reload of its own (a second load at start-up)
  let markListening = () => {};
  const listening = new Promise<void>((r) => (markListening = r));
  void startListener();
  if (state.config.dbChannelEnabled) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      listening,
      new Promise((r) => (timer = setTimeout(r, 1000))),
    ]);
    clearTimeout(timer);
  }
  const first = recover();
  if (opts.waitForCache ?? true) {
    await Promise.race([first, new Promise((r) => setTimeout(r, 5000))]);
  }
  return {
    state,
    hostname: bindAddress(config.serverHost),
    reload,
    reloadConfig,
    async close() {
      closed = true;
      bodyParser.close();
      if (unlisten !== null) await unlisten().catch(() => {});
      await db.close();
    },
  };
}

/** What serves HTTP: `Deno.HttpServer` or the connection guard. */
export interface Served {
  /** Settles when serving stops; rejects when accepting failed. */
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Serves `handler` behind the connection guard when
 * `server-header-read-timeout` is set (plain TCP only); null otherwise, and
 * for a unix socket or TLS, where the guard does not apply (a warning is
 * logged).
 */
export function serveGuardedIfEnabled(
  config: Config,
  hostname: string,
  handler: Handler,
): Served | null {
  if (config.serverHeaderReadTimeout <= 0) return null;
  if (config.serverUnixSocket !== null || config.serverTlsCert !== null) {
    log(
      "warn",
      "server-header-read-timeout applies to plain TCP only: no connection guard on a unix socket or with TLS",
      config.logLevel,
      true,
    );
    return null;
  }
  return serveGuarded({
    hostname,
    port: config.serverPort,
    reusePort: config.serverReuseport,
    headerReadTimeout: config.serverHeaderReadTimeout,
    maxConnections: config.serverMaxConnections,
    maxHeaderBytes: config.serverMaxHeaderBytes,
    logLevel: config.logLevel,
    onListen: (addr) =>
      log(
        "info",
        `pgrest listening on ${addr.hostname}:${addr.port} (connection guard)`,
        config.logLevel,
      ),
  }, handler);
}

/** A listener that `keepServing` restarts after it fails. */
export interface KeptServer {
  /** Stops accepting (no restart after this) and lets requests finish. */
  shutdown(): Promise<void>;
}

/**
 * Keeps a `Deno.serve` listener up. Deno 2.9's server stops for good when
 * accepting a connection fails, for example when the process runs out of
 * file descriptors under a flood of idle or slow connections: the process
 * would then live on without serving. This starts a new listener (with
 * capped backoff while starting fails) until `shutdown()`. `onRestart` is
 * called before each new start (e.g. to remove a stale unix socket file).
 */
export function keepServing(
  start: () => Served,
  opts: { logLevel: Config["logLevel"]; onRestart?: () => void },
): KeptServer {
  let current: Served | null = start();
  let stopped = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const watch = (server: Served): void => {
    server.finished.then(
      () => {},
      (e: unknown) => {
        if (stopped) return;
        log(
          "error",
          `the HTTP listener failed (${
            e instanceof Error ? e.message : String(e)
          }); starting it again`,
          opts.logLevel,
        );
        current = null;
        restart(50);
      },
    );
  };
  const restart = (delay: number): void => {
    retry = setTimeout(() => {
      if (stopped) return;
      try {
        opts.onRestart?.();
        current = start();
        watch(current);
        log("info", "the HTTP listener is serving again", opts.logLevel);
      } catch {
        restart(Math.min(delay * 2, 1000));
      }
    }, delay);
  };
  watch(current);
  return {
    async shutdown() {
      stopped = true;
      clearTimeout(retry);
      await current?.shutdown();
    },
  };
}
