/**
 * Owns the database as the rest of pgrest sees it ({@linkcode Db}), and
 * every call into postgres.js: the only module that imports it.
 *
 * Request transactions run on pgrest's own connections (wire_pool.ts,
 * wire_connection.ts): settings, pre-request and main statement go out
 * together behind one Sync, so a request waits for one round trip. A
 * transaction that commits needs no BEGIN or COMMIT: the statements share
 * the protocol's implicit transaction, which the Sync commits (or rolls
 * back after an error); a read-only one sets `transaction_read_only` first.
 * A transaction that rolls back, or whose end depends on its results, is an
 * explicit BEGIN … ROLLBACK/COMMIT block.
 *
 * Catalog queries use the same pool; postgres.js keeps only the LISTEN
 * connection (it reconnects and re-LISTENs by itself). Failures map to
 * `PgrstError`s.
 *
 * @module
 */

import postgres from "postgres";
import type { Config } from "../config/types.ts";
import { connectionError, fromPgError, PgrstError } from "../error.ts";
import type { Statement } from "../query/sql.ts";
import { parseConnectOptions } from "./connect_options.ts";
import {
  ConnectionLost,
  ConnectRefused,
  type Step,
  type WireConnection,
} from "./wire_connection.ts";
import { WirePool } from "./wire_pool.ts";

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
  /**
   * The first statement already sets `transaction_read_only` when
   * `readOnly` (pre_query.ts `TxVars.readOnly`): a committing transaction
   * then needs no extra statement for it.
   */
  readonly readOnlySet?: boolean;
  readonly statements: readonly Statement[];
  readonly end: TxEnd;
  /**
   * The request's abort signal, aborted when the client goes away: the
   * running statement is then cancelled (a CancelRequest), so its
   * connection is free again at once. A function, called only for a
   * transaction still running after {@linkcode CANCEL_WATCH_MS}: making a
   * signal costs every request that asks for one.
   */
  readonly signal?: () => AbortSignal;
  /** Whether the request carried a valid JWT (401 vs 403 on 42501). */
  readonly authenticated: boolean;
  /**
   * An isolation level above read committed (the role's or the function's
   * `default_transaction_isolation`): the transaction is then a BEGIN
   * block that starts at that level.
   */
  readonly isolation?: Isolation;
}

/** The isolation levels above PostgreSQL's default, read committed. */
export type Isolation = "repeatable read" | "serializable";

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
   * Stops reusing prepared statements (after a schema reload): every
   * connection runs DEALLOCATE ALL before its next batch.
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

/** Socket error codes and SQLSTATEs of a connection that is gone. */
const LOST = new Set([
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
  if (e instanceof ConnectionLost || e instanceof ConnectRefused) return true;
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

/**
 * A libpq `key=value` connection string as a postgres:// URL; URLs pass
 * unchanged.
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

const ISOLATION_SQL: Readonly<Record<Isolation | "read committed", string>> = {
  "read committed": "READ COMMITTED",
  "repeatable read": "REPEATABLE READ",
  "serializable": "SERIALIZABLE",
};

/** `BEGIN ISOLATION LEVEL … [READ ONLY]`, from closed lists. */
function begin(isolation: Isolation | undefined, readOnly: boolean): Step {
  return {
    text: `BEGIN ISOLATION LEVEL ${
      ISOLATION_SQL[isolation ?? "read committed"]
    }${readOnly ? " READ ONLY" : ""}`,
    params: [],
  };
}
const READ_ONLY: Step = {
  text: "SELECT set_config('transaction_read_only', 'on', true)",
  params: [],
};
const IMMEDIATE: Step = { text: "SET CONSTRAINTS ALL IMMEDIATE", params: [] };
const COMMIT: Step = { text: "COMMIT", params: [] };
const ROLLBACK: Step = { text: "ROLLBACK", params: [] };

/**
 * The statements that run a request's transaction, and where its own
 * statements' results are among theirs.
 */
export function transactionSteps(
  tx: Pick<
    TxRequest,
    "readOnly" | "readOnlySet" | "statements" | "end" | "isolation"
  >,
): { steps: Step[]; first: number; count: number } {
  const count = tx.statements.length;
  if (tx.end === "commit" && tx.isolation === undefined) {
    // the implicit transaction: committed by the Sync
    return tx.readOnly && tx.readOnlySet !== true
      ? { steps: [READ_ONLY, ...tx.statements], first: 1, count }
      : { steps: [...tx.statements], first: 0, count };
  }
  const steps = [begin(tx.isolation, tx.readOnly), ...tx.statements];
  if (tx.end === "commit") {
    // another isolation level must be set before the first statement
    steps.push(COMMIT);
    return { steps, first: 1, count };
  }
  // deferred constraints are checked even when the transaction is rolled
  // back, so their violations reach the client
  if (!tx.readOnly) steps.push(IMMEDIATE);
  if (tx.end === "rollback") steps.push(ROLLBACK);
  return { steps, first: 1, count };
}

/** How long a transaction runs before its request's signal is watched. */
export const CANCEL_WATCH_MS = 100;

interface Watched {
  readonly since: number;
  readonly signal: () => AbortSignal;
  readonly onAbort: () => void;
  attached: AbortSignal | null;
}

/**
 * Watches the abort signals of long-running transactions: one timer for
 * all of them, and a signal asked for only once its transaction has run
 * {@linkcode CANCEL_WATCH_MS}, so that short requests never make one. The
 * timer stops at a tick that finds nothing watched, not when the last
 * transaction ends: at low concurrency the set empties between most
 * requests, and a new interval per request cost more than the watching.
 */
class AbortWatcher {
  #watched = new Set<Watched>();
  #timer: ReturnType<typeof setInterval> | undefined;

  watch(signal: () => AbortSignal, onAbort: () => void): Watched {
    const w: Watched = { since: Date.now(), signal, onAbort, attached: null };
    this.#watched.add(w);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), CANCEL_WATCH_MS);
      Deno.unrefTimer(this.#timer as unknown as number);
    }
    return w;
  }

  unwatch(w: Watched): void {
    this.#watched.delete(w);
    w.attached?.removeEventListener("abort", w.onAbort);
  }

  #tick(): void {
    if (this.#watched.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    for (const w of this.#watched) {
      if (w.attached !== null || now - w.since < CANCEL_WATCH_MS) continue;
      const s = w.signal();
      w.attached = s;
      if (s.aborted) w.onAbort();
      else s.addEventListener("abort", w.onAbort, { once: true });
    }
  }
}

/** Opens the pools (lazily: connections are made on first use). */
export function createDb(config: Config): Db {
  // the LISTEN connection (db-channel): postgres.js reconnects it and
  // re-runs LISTEN by itself
  const sql = postgres(connectionUrl(config.dbUri), {
    backoff: (attempts: number) => Math.min(0.05 * 2 ** attempts, 0.5),
    max: 1,
    connect_timeout: 10,
    fetch_types: false,
    onnotice: () => {},
    connection: { application_name: "pgrest" },
  });
  const prepare = config.dbPreparedStatements;
  const watcher = new AbortWatcher();
  const wire = new WirePool(
    parseConnectOptions(connectionUrl(config.dbUri), {
      applicationName: "pgrest",
      connectTimeoutSeconds: 10,
    }),
    {
      max: config.dbPool,
      idleTimeoutMs: config.dbPoolMaxIdletime * 1000,
      maxLifetimeMs: config.dbPoolMaxLifetime * 1000,
      acquireTimeoutMs: config.dbPoolAcquisitionTimeout * 1000,
      pipelineDepth: config.dbPoolPipeline,
    },
  );

  /**
   * Runs `work` on a pooled connection and gives the connection back (closed
   * when it died); every failure becomes the client's error.
   */
  async function withConnection<T>(
    authenticated: boolean,
    work: (conn: WireConnection) => Promise<T>,
    shared = false,
  ): Promise<T> {
    let conn: WireConnection;
    try {
      conn = await wire.acquire(shared);
    } catch (e) {
      throw mapDriverError(e, authenticated);
    }
    let healthy = true;
    try {
      return await work(conn);
    } catch (e) {
      if (isConnectionLoss(e) || conn.dead) healthy = false;
      throw mapDriverError(e, authenticated);
    } finally {
      wire.release(conn, healthy);
    }
  }

  return {
    transaction(tx: TxRequest): Promise<(readonly Row[])[]> {
      // one batch that the Sync commits: it may share a busy connection
      const implicit = tx.end === "commit" && tx.isolation === undefined;
      return withConnection(tx.authenticated, async (conn) => {
        const token = {};
        const watch = tx.signal === undefined
          ? null
          : watcher.watch(tx.signal, () => void conn.cancel(token));
        try {
          const batch = transactionSteps(tx);
          const res = await conn.run(batch.steps, prepare, {
            token,
            retryable: implicit,
          });
          if (res.error !== null) {
            // an explicit transaction stays open, aborted, after the Sync
            if (res.txStatus !== "I") await conn.run([ROLLBACK], prepare);
            throw res.error;
          }
          const rows = res.rows.slice(batch.first, batch.first + batch.count);
          if (typeof tx.end === "function") {
            const decision = tx.end(rows);
            const end = await conn.run(
              [decision === "commit" ? COMMIT : ROLLBACK],
              prepare,
            );
            if (end.error !== null) throw end.error;
          }
          return rows;
        } finally {
          if (watch !== null) watcher.unwatch(watch);
        }
      }, implicit);
    },
    query(text: string, params: readonly unknown[]) {
      return withConnection(false, async (conn) => {
        const res = await conn.run([{ text, params }], false);
        if (res.error !== null) throw res.error;
        return res.rows[0] ?? [];
      });
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
      wire.invalidate();
    },
    stats() {
      return wire.stats();
    },
    async close() {
      wire.close();
      await sql.end({ timeout: 5 });
    },
  };
}
