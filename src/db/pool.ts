/**
 * Owns the connection pool and every call into postgres.js: the only module
 * that imports it. Runs a request's transaction pipelined on one reserved
 * connection (BEGIN, settings, pre-request, main statement, COMMIT sent
 * together: one round trip of waiting), runs catalog queries, and maps
 * driver failures to `PgrstError`s.
 *
 * @module
 */

import postgres from "postgres";
import type { Config } from "../config/types.ts";
import {
  connectionError,
  fromPgError,
  PgrstError,
  poolTimeout,
} from "../error.ts";
import type { Statement } from "../query/sql.ts";

/** A row as the driver returns it. */
export type Row = Record<string, unknown>;

/** How a transaction ends: fixed, or decided from the results. */
export type TxEnd =
  | "commit"
  | "rollback"
  | ((results: readonly (readonly Row[])[]) => "commit" | "rollback");

/** One transaction to run. */
export interface TxRequest {
  readonly readOnly: boolean;
  readonly statements: readonly Statement[];
  readonly end: TxEnd;
  /** Whether the request carried a valid JWT (401 vs 403 on 42501). */
  readonly authenticated: boolean;
}

/** The database as the rest of pgrest sees it. */
export interface Db {
  /** Runs statements in one transaction; returns each statement's rows. */
  transaction(tx: TxRequest): Promise<(readonly Row[])[]>;
  /** Runs one query outside a request transaction (catalog, version). */
  query(text: string, params: readonly unknown[]): Promise<readonly Row[]>;
  /**
   * LISTENs on a channel on a dedicated connection that reconnects by
   * itself; `onListen` runs on every (re)connect.
   */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onListen: () => void,
  ): Promise<{ unlisten(): Promise<void> }>;
  /** Pool usage for metrics. */
  stats(): { max: number; inUse: number; waiting: number; timeouts: number };
  /**
   * Stops reusing prepared statements (after a schema reload): statements
   * are prepared again under new names on every connection.
   */
  invalidateStatements(): void;
  close(): Promise<void>;
}

interface DriverError {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
  hint?: unknown;
  severity?: unknown;
}

function isServerError(e: unknown): e is DriverError & { code: string } {
  return typeof e === "object" && e !== null &&
    (e as { name?: unknown }).name === "PostgresError" &&
    typeof (e as DriverError).code === "string";
}

const LOST = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "ECONNRESET",
  "EPIPE",
  "ECONNREFUSED",
  "57P01",
  "57P02",
  "57P03",
]);

/** Whether a failure means the connection is gone. */
export function isConnectionLoss(e: unknown): boolean {
  const code = typeof e === "object" && e !== null
    ? (e as { code?: unknown }).code
    : undefined;
  return typeof code === "string" && (LOST.has(code) || code.startsWith("08"));
}

/** Maps a driver failure to the client's error. */
export function mapDriverError(e: unknown, authenticated: boolean): PgrstError {
  if (e instanceof PgrstError) return e;
  if (isServerError(e)) {
    return fromPgError({
      code: e.code,
      message: typeof e.message === "string" ? e.message : "",
      detail: typeof e.detail === "string" ? e.detail : undefined,
      hint: typeof e.hint === "string" ? e.hint : undefined,
    }, authenticated);
  }
  const msg = e instanceof Error ? e.message : String(e);
  return connectionError(msg);
}

function passText(x: unknown): string {
  return typeof x === "string" ? x : String(x);
}

function passJson(x: unknown): string {
  return typeof x === "string" ? x : JSON.stringify(x);
}

/** Opens the pool (lazily: connections are made on first use). */
/**
 * A libpq `key=value` connection string as a postgres:// URL (postgres.js
 * takes URLs only); URLs pass unchanged.
 */
export function connectionUrl(uri: string): string {
  if (/^postgres(ql)?:\/\//.test(uri)) return uri;
  const pairs = new Map<string, string>();
  const re = /(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/g;
  for (const m of uri.matchAll(re)) {
    const raw = m[2] ?? "";
    const value = raw.startsWith("'")
      ? raw.slice(1, -1).replace(/\\(.)/g, "$1")
      : raw;
    pairs.set(m[1] ?? "", value);
  }
  const enc = encodeURIComponent;
  const user = pairs.get("user");
  const password = pairs.get("password");
  const auth = user === undefined
    ? ""
    : `${enc(user)}${password === undefined ? "" : `:${enc(password)}`}@`;
  const host = pairs.get("host") ?? "localhost";
  const hostPart = host.startsWith("/") ? enc(host) : host;
  const port = pairs.get("port");
  const db = pairs.get("dbname") ?? "";
  const rest = [...pairs].filter(([k]) =>
    !["user", "password", "host", "port", "dbname"].includes(k)
  ).map(([k, v]) => `${enc(k)}=${enc(v)}`);
  return `postgres://${auth}${hostPart}${
    port === undefined ? "" : `:${port}`
  }/${enc(db)}${rest.length === 0 ? "" : `?${rest.join("&")}`}`;
}

export function createDb(config: Config): Db {
  const sql = postgres(connectionUrl(config.dbUri), {
    // reconnect quickly: during an outage requests fail fast with 503
    // instead of queueing behind postgres.js's default backoff (up to 20 s)
    backoff: (attempts: number) => Math.min(0.05 * 2 ** attempts, 0.5),
    max: config.dbPool,
    idle_timeout: config.dbPoolMaxIdletime,
    max_lifetime: config.dbPoolMaxLifetime,
    connect_timeout: 10,
    prepare: config.dbPreparedStatements,
    // fetch_types must stay on: with it off, postgres.js 3.4.9 never resolves
    // reserve() on a fresh connection (connection.js drops the reserve request).
    fetch_types: true,
    onnotice: () => {},
    // Request values are text and PostgreSQL parses them. postgres.js would
    // re-encode strings bound to json, boolean, date/time and bytea
    // parameters ("true" became 'f', "20190101" an Invalid Date): pass them
    // through as they are.
    types: {
      // json results stay text: bodies pass through without a re-parse
      pgrstJson: {
        to: 114,
        from: [114, 3802],
        serialize: passJson,
        parse: (x: string) => x,
      },
      pgrstBool: {
        to: 16,
        from: [16],
        serialize: passText,
        parse: (x: string) => x === "t",
      },
      pgrstText: {
        to: 17,
        from: [17, 1082, 1083, 1114, 1184, 1266],
        serialize: passText,
        parse: (x: string) => x,
      },
    },
    connection: { application_name: "pgrest" },
  });
  const prepare = config.dbPreparedStatements;

  // One watchdog for every waiting request instead of a timer each:
  // postgres.js queues forever, so db-pool-acquisition-timeout is ours.
  const timeoutMs = config.dbPoolAcquisitionTimeout * 1000;
  const waiting = new Set<{ deadline: number; reject: (e: unknown) => void }>();
  let watchdog: ReturnType<typeof setInterval> | undefined;
  function checkDeadlines(): void {
    const now = Date.now();
    for (const w of waiting) {
      if (w.deadline <= now) {
        waiting.delete(w);
        w.reject(poolTimeout());
      }
    }
    if (waiting.size === 0 && watchdog !== undefined) {
      clearInterval(watchdog);
      watchdog = undefined;
    }
  }

  let inUse = 0;
  // prepared statements are cached by text: a new prefix after each schema
  // reload makes every statement a new one
  let generation = 0;
  let timeouts = 0;
  function reserve(): Promise<postgres.ReservedSql> {
    return new Promise((resolve, reject) => {
      const entry = {
        deadline: Date.now() + timeoutMs,
        reject: (e: unknown) => {
          timeouts++;
          reject(e);
        },
      };
      waiting.add(entry);
      if (watchdog === undefined) {
        watchdog = setInterval(checkDeadlines, Math.min(100, timeoutMs));
      }
      sql.reserve().then((c) => {
        // a connection that arrives after the deadline goes straight back
        if (waiting.delete(entry)) {
          inUse++;
          resolve(c);
        } else c.release();
      }, (e) => {
        if (waiting.delete(entry)) reject(e);
      });
    });
  }

  return {
    async transaction(tx: TxRequest): Promise<(readonly Row[])[]> {
      let conn: postgres.ReservedSql;
      try {
        conn = await reserve();
      } catch (e) {
        throw mapDriverError(e, tx.authenticated);
      }
      const begin = tx.readOnly
        ? "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY"
        : "BEGIN ISOLATION LEVEL READ COMMITTED";
      // postgres.js sends a query only once it is awaited or `.then`ed:
      // `send` does that at once, so the statements go out in this order.
      const send = (text: string, params: readonly unknown[] = []) =>
        conn.unsafe(
          params.length > 0 && generation > 0
            ? `/* pgrst ${generation} */ ${text}`
            : text,
          params as postgres.ParameterOrJSON<never>[],
          { prepare },
        ).then((r) => r as unknown as readonly Row[]);
      const pending: Promise<unknown>[] = [];
      const results: Promise<readonly Row[]>[] = [];
      // the connection died under us: postgres.js has already moved it to
      // its closed list, and releasing it would hand a dead socket out again
      let gone = false;
      try {
        pending.push(send(begin));
        for (const st of tx.statements) {
          const p = send(st.text, st.params);
          results.push(p);
          pending.push(p);
        }
        let endSent = false;
        // deferred constraints are checked even when the transaction is
        // rolled back, so their violations reach the client
        if (!tx.readOnly) pending.push(send("SET CONSTRAINTS ALL IMMEDIATE"));
        if (typeof tx.end === "string") {
          pending.push(send(tx.end === "commit" ? "COMMIT" : "ROLLBACK"));
          endSent = true;
        }
        // A lost connection may leave statements queued behind it that
        // postgres.js never settles: stop waiting at the first such error.
        const lost = new Promise<never>((_, reject) => {
          for (const p of pending) {
            p.catch((e: unknown) => {
              if (isConnectionLoss(e)) reject(e);
            });
          }
        });
        lost.catch(() => {});
        let settled: PromiseSettledResult<unknown>[];
        try {
          settled = await Promise.race([Promise.allSettled(pending), lost]);
        } catch (e) {
          gone = true;
          throw e;
        }
        const failed = settled.find((s): s is PromiseRejectedResult =>
          s.status === "rejected"
        );
        if (failed !== undefined) {
          if (!endSent) await send("ROLLBACK").catch(() => {});
          throw failed.reason;
        }
        const rows = await Promise.all(results);
        if (typeof tx.end === "function") {
          const decision = tx.end(rows);
          await send(decision === "commit" ? "COMMIT" : "ROLLBACK");
        }
        return rows;
      } catch (e) {
        if (isConnectionLoss(e)) gone = true;
        throw mapDriverError(e, tx.authenticated);
      } finally {
        inUse--;
        if (!gone) conn.release();
      }
    },
    async query(text: string, params: readonly unknown[]) {
      try {
        const r = await sql.unsafe(
          text,
          params as postgres.ParameterOrJSON<never>[],
        );
        return r as unknown as readonly Row[];
      } catch (e) {
        throw mapDriverError(e, false);
      }
    },
    async listen(channel, onNotify, onListen) {
      const sub = await sql.listen(
        channel,
        (payload) => onNotify(payload),
        onListen,
      );
      return { unlisten: () => sub.unlisten() };
    },
    invalidateStatements() {
      generation++;
    },
    stats() {
      return { max: config.dbPool, inUse, waiting: waiting.size, timeouts };
    },
    async close() {
      if (watchdog !== undefined) clearInterval(watchdog);
      await sql.end({ timeout: 5 });
    },
  };
}
