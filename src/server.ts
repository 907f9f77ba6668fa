/**
 * Owns the application's running state: opens the pool, builds the
 * authenticator, loads the schema cache (retrying with capped backoff while
 * the database is unreachable, so requests get 503 until it is there), and
 * closes everything on shutdown.
 *
 * @module
 */

import { type AppState, makeHandler } from "./app.ts";
import { createAuthenticator } from "./auth/jwt.ts";
import type { Config } from "./config/types.ts";
import { createDb, type Db } from "./db/pool.ts";
import { log } from "./log.ts";
import { loadSchemaCache } from "./schema_cache/load.ts";
import type { SchemaCache } from "./schema_cache/types.ts";

export { makeHandler };

/** A started application. */
export interface RunningApp {
  readonly state: AppState;
  readonly hostname: string;
  /** Loads the schema cache again (used on reload and in tests). */
  reload(): Promise<void>;
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

/** Starts the application state; the cache loads in the background. */
export async function startApp(
  config: Config,
  opts: { waitForCache?: boolean } = {},
): Promise<RunningApp> {
  const db = createDb(config);
  const auth = await createAuthenticator(config);
  const state: AppState = {
    config,
    db,
    auth,
    cache: null,
    now: () => Math.floor(Date.now() / 1000),
  };
  let closed = false;
  const reload = async (): Promise<void> => {
    state.cache = await fetchSchemaCache(db, config);
  };
  const loadWithRetry = async (): Promise<void> => {
    let delay = 250;
    while (!closed) {
      try {
        await reload();
        log("info", "schema cache loaded", config.logLevel);
        return;
      } catch (e) {
        log(
          "error",
          `schema cache load failed, retrying in ${delay} ms: ${
            e instanceof Error ? e.message : String(e)
          }`,
          config.logLevel,
        );
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 4000);
      }
    }
  };
  const loading = loadWithRetry();
  if (opts.waitForCache ?? true) {
    await Promise.race([loading, new Promise((r) => setTimeout(r, 5000))]);
  }
  return {
    state,
    hostname: bindAddress(config.serverHost),
    reload,
    async close() {
      closed = true;
      await db.close();
    },
  };
}
