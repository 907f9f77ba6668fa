/**
 * Owns one PostgreSQL connection for request transactions: opening it (TCP
 * or unix socket, TLS per `sslmode`, trust/cleartext/MD5/SCRAM-SHA-256
 * authentication) and running batches of statements pipelined behind one
 * Sync, so that a request waits for one round trip and, without BEGIN, its
 * statements share the protocol's implicit transaction.
 *
 * Statements are prepared once per connection under generated names (the
 * Parse goes out in the same pipeline as its first Bind, so it is parsed as
 * the request's role), unless prepared statements are off. A connection runs
 * the batches it is given in order. The pool gives it to one request at a
 * time, or, when every connection is busy, to several requests whose
 * batches are whole implicit transactions: their batches are then
 * pipelined, each behind its own Sync (wire_pool.ts). A statement another
 * batch is still preparing is sent unnamed, so that a batch never depends on
 * one still in flight.
 *
 * @module
 */

import net from "node:net";
import { setImmediate } from "node:timers";
import tls from "node:tls";
import type { ConnectOptions } from "./connect_options.ts";
import { md5Password, type ScramClient, scramClient } from "./scram.ts";
import {
  cancelRequest,
  type Column,
  MessageReader,
  MessageWriter,
  readAuthentication,
  readBackendKey,
  readDataRow,
  readErrorFields,
  readRowDescription,
  readSaslMechanisms,
  sslRequest,
} from "./wire_protocol.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An error the server reported (postgres.js's `PostgresError` shape). */
export class PgServerError extends Error {
  override readonly name = "PostgresError";
  readonly code: string;
  readonly severity: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  constructor(f: {
    code: string;
    message: string;
    severity: string;
    detail?: string;
    hint?: string;
  }) {
    super(f.message);
    this.code = f.code;
    this.severity = f.severity;
    this.detail = f.detail;
    this.hint = f.hint;
  }
}

/**
 * The server refused the connection (authentication, no such database,
 * shutting down, too many clients): a connection error, not a statement's.
 */
export class ConnectRefused extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/** The connection is gone (closed by the server, reset, protocol error). */
export class ConnectionLost extends Error {
  readonly code = "CONNECTION_CLOSED";
}

/** One statement of a batch. */
export interface Step {
  readonly text: string;
  readonly params: readonly unknown[];
}

/** How a batch runs. */
export interface RunOptions {
  /**
   * Identifies the batch for {@linkcode WireConnection.cancel}: only the
   * batch with this token is cancelled, never another request's.
   */
  readonly token?: object;
  /**
   * The batch is a whole implicit transaction (no BEGIN): when a cancel
   * meant for another batch hits it (the target ended just before the
   * cancel arrived; PostgreSQL signals a backend twice for one cancel, to
   * the process and to its group, so the next batch can be hit too),
   * nothing of it was committed and it is sent again, up to
   * {@linkcode MAX_CANCEL_RETRIES} times.
   */
  readonly retryable?: boolean;
}

/** How often a batch hit by cancels meant for others is sent again. */
const MAX_CANCEL_RETRIES = 3;

/** What a batch returned. */
export interface BatchResult {
  /** Rows per step; steps after a failure have none. */
  readonly rows: Record<string, unknown>[][];
  /** The first error, if a step failed (the rest were skipped). */
  readonly error: PgServerError | null;
  /** The transaction status after the Sync: `I`, `T` or `E`. */
  readonly txStatus: "I" | "T" | "E";
}

/** Bytes in and out. */
interface Transport {
  /**
   * Sends `b`. `defer`: it may wait for the end of this turn of the event
   * loop, so that what else is written meanwhile goes out in the same write
   * (PostgreSQL then reads several batches per wake-up, as postgres.js
   * writes).
   */
  write(b: Uint8Array, defer?: boolean): void;
  /**
   * Whether every byte given to `write` has been handed to the socket, so
   * that the buffer they came from may be written into again.
   */
  idle(): boolean;
  start(onData: (b: Uint8Array) => void, onClose: (e: unknown) => void): void;
  close(): void;
}

/** A Deno socket (TCP, unix or Deno TLS). */
class DenoTransport implements Transport {
  #conn: Deno.Conn;
  #queue: Uint8Array[] = [];
  #writing = false;
  #scheduled = false;
  #closed = false;
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  write(b: Uint8Array, defer = false): void {
    this.#queue.push(b);
    if (this.#writing || this.#scheduled) return;
    if (!defer) {
      void this.#flush();
      return;
    }
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#writing) void this.#flush();
    });
  }
  idle(): boolean {
    return !this.#writing && !this.#scheduled && this.#queue.length === 0;
  }
  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        // what queued up during the last write goes out in one write
        const b = this.#queue.length === 1
          ? this.#queue.pop()!
          : concat(this.#queue.splice(0));
        let off = 0;
        while (off < b.length) off += await this.#conn.write(b.subarray(off));
      }
    } catch {
      this.close();
    } finally {
      this.#writing = false;
    }
  }
  start(onData: (b: Uint8Array) => void, onClose: (e: unknown) => void): void {
    void (async () => {
      const buf = new Uint8Array(64 * 1024);
      let error: unknown = null;
      try {
        for (;;) {
          const n = await this.#conn.read(buf);
          if (n === null) break;
          onData(buf.subarray(0, n));
        }
      } catch (e) {
        error = e;
      }
      this.close();
      onClose(error);
    })();
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A node:tls socket: TLS without certificate checks (`require`, `prefer`). */
class NodeTransport implements Transport {
  #socket: tls.TLSSocket;
  constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
  }
  write(b: Uint8Array): void {
    this.#socket.write(b);
  }
  idle(): boolean {
    return false; // node streams may keep a reference to what they buffer
  }
  start(onData: (b: Uint8Array) => void, onClose: (e: unknown) => void): void {
    let error: unknown = null;
    this.#socket.on("data", (b: Uint8Array) => onData(b));
    this.#socket.on("error", (e: unknown) => {
      error = e;
    });
    this.#socket.on("close", () => onClose(error));
  }
  close(): void {
    this.#socket.destroy();
  }
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) {
      throw new ConnectionLost("connection closed during TLS negotiation");
    }
    got += r;
  }
  return out;
}

/** node:net + node:tls, for TLS that does not check the certificate. */
function openNodeTls(o: ConnectOptions): Promise<Transport | null> {
  return new Promise((resolve, reject) => {
    const socket = o.socketPath !== null
      ? net.connect({ path: o.socketPath })
      : net.connect({ host: o.host ?? "localhost", port: o.port });
    socket.setNoDelay(true);
    socket.once("error", reject);
    socket.once("connect", () => socket.write(sslRequest()));
    socket.once("data", (b: Uint8Array) => {
      socket.removeListener("error", reject);
      if (b[0] !== 0x53) {
        if (o.sslMode === "require") {
          socket.destroy();
          reject(
            new Error("the server does not support TLS (sslmode=require)"),
          );
        } else {
          socket.destroy();
          resolve(null);
        }
        return;
      }
      let t: tls.TLSSocket;
      try {
        t = tls.connect({
          socket,
          rejectUnauthorized: false,
          // SNI takes host names only
          ...(o.host === null || net.isIP(o.host) !== 0
            ? {}
            : { servername: o.host }),
        });
      } catch (e) {
        socket.destroy();
        reject(e);
        return;
      }
      t.once("error", reject);
      t.once("secureConnect", () => {
        t.removeListener("error", reject);
        t.setNoDelay(true);
        resolve(new NodeTransport(t));
      });
    });
  });
}

async function openDeno(o: ConnectOptions): Promise<Deno.Conn> {
  if (o.socketPath !== null) {
    return await Deno.connect({ transport: "unix", path: o.socketPath });
  }
  const conn = await Deno.connect({
    hostname: o.host ?? "localhost",
    port: o.port,
  });
  conn.setNoDelay(true);
  conn.setKeepAlive(true);
  return conn;
}

async function openTransport(o: ConnectOptions): Promise<Transport> {
  // as libpq: no TLS over a unix socket
  if (o.socketPath !== null) return new DenoTransport(await openDeno(o));
  if (o.sslMode === "prefer" || o.sslMode === "require") {
    const t = await openNodeTls(o);
    if (t !== null) return t;
    return new DenoTransport(await openDeno(o));
  }
  const conn = await openDeno(o);
  if (o.sslMode === "verify-ca" || o.sslMode === "verify-full") {
    await conn.write(sslRequest());
    const answer = await readExactly(conn, 1);
    if (answer[0] !== 0x53) {
      conn.close();
      throw new Error(`the server does not support TLS (sslmode=${o.sslMode})`);
    }
    const caCerts = o.sslRootCert === null
      ? undefined
      : [await Deno.readTextFile(o.sslRootCert)];
    const tlsConn = await Deno.startTls(conn as Deno.TcpConn, {
      hostname: o.host ?? "localhost",
      ...(caCerts === undefined ? {} : { caCerts }),
    });
    return new DenoTransport(tlsConn);
  }
  return new DenoTransport(conn);
}

/** A prepared statement on this connection. */
interface Prepared {
  readonly text: string;
  readonly name: string;
  columns: Column[] | null;
  parsed: boolean;
}

interface StepState {
  readonly entry: Prepared | null;
  columns: Column[] | null;
  readonly rows: Record<string, unknown>[];
}

interface Batch {
  /** The caller's statements, to send again (see `RunOptions.retryable`). */
  readonly sent: readonly Step[];
  readonly options: RunOptions;
  /** How often it was sent again after a cancel meant for another. */
  readonly retries: number;
  readonly steps: StepState[];
  /** Steps before the caller's (DEALLOCATE ALL): their rows are dropped. */
  readonly hidden: number;
  idx: number;
  error: PgServerError | null;
  readonly created: Prepared[];
  readonly resolve: (r: BatchResult) => void;
  readonly reject: (e: unknown) => void;
}

/** A connection keeps its message buffer for the next batch up to this size. */
const MAX_KEPT_WRITER_BYTES = 64 * 1024;

/** Prepared statements kept per connection before they are all dropped. */
const MAX_PREPARED = 256;

/** One open connection. */
export class WireConnection {
  readonly createdAt = Date.now();
  idleSince = Date.now();
  /** The pool's statement generation this connection's statements belong to. */
  generation = 0;
  #transport: Transport;
  #reader = new MessageReader();
  /**
   * The batches' message buffer, reused once the last batch's bytes are
   * written (a new ArrayBuffer per request costs its allocation and GC).
   */
  #writer = new MessageWriter();
  #batches: Batch[] = [];
  #prepared = new Map<string, Prepared>();
  #counter = 0;
  #deallocate = false;
  /** When the first unanswered batch became first (see `busySince`). */
  #headSince = 0;
  /** The last cancel sent: its target batch and when. */
  #cancelled: { readonly target: Batch; readonly at: number } | null = null;
  #dead = false;
  #onDead: (() => void) | null = null;
  #startup: {
    resolve: () => void;
    reject: (e: unknown) => void;
    scram: ScramClient | null;
  } | null = null;
  #opts: ConnectOptions;
  backendPid = 0;
  backendSecret = 0;
  /** The pool's: requests holding this connection. */
  holders = 0;
  /** The pool's: whether its holders share it (pipelined batches). */
  shared = false;

  private constructor(transport: Transport, opts: ConnectOptions) {
    this.#transport = transport;
    this.#opts = opts;
  }

  /**
   * Opens and authenticates a connection.
   * @throws PgServerError when the server refuses it, Error for the rest
   */
  static async connect(opts: ConnectOptions): Promise<WireConnection> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let conn: WireConnection | null = null;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("timeout while connecting to the database")),
        opts.connectTimeoutMs,
      );
    });
    const opening = openTransport(opts);
    try {
      const transport = await Promise.race([opening, timeout]);
      conn = new WireConnection(transport, opts);
      await Promise.race([conn.#start(), timeout]);
      return conn;
    } catch (e) {
      if (conn !== null) conn.close();
      // a socket that opens after the timeout is closed, not leaked
      else opening.then((t) => t.close(), () => {});
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the connection is gone. */
  get dead(): boolean {
    return this.#dead;
  }

  /** Runs `f` once when the connection dies. */
  onDead(f: () => void): void {
    this.#onDead = f;
  }

  #start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#startup = { resolve, reject, scram: null };
      this.#transport.start(
        (b) => this.#onData(b),
        (e) => this.#lost(e),
      );
      const params: Record<string, string> = {
        user: this.#opts.user,
        database: this.#opts.database,
        client_encoding: "UTF8",
        ...this.#opts.startup,
      };
      this.#transport.write(new MessageWriter().startup(params).bytes());
    });
  }

  /** Drops every prepared statement before the next batch. */
  invalidate(): void {
    this.#deallocate = true;
  }

  /**
   * Runs statements behind one Sync. Resolves with each step's rows or the
   * first error; rejects only when the connection is lost.
   */
  run(
    steps: readonly Step[],
    prepare: boolean,
    options: RunOptions = {},
  ): Promise<BatchResult> {
    if (this.#dead) {
      return Promise.reject(new ConnectionLost("connection closed"));
    }
    return new Promise((resolve, reject) =>
      this.#send(steps, prepare, options, 0, resolve, reject)
    );
  }

  /** Batches sent and not answered yet. */
  get pending(): number {
    return this.#batches.length;
  }

  /**
   * When the batch PostgreSQL is running now became the first one
   * unanswered (ms since the epoch), or null when none is.
   */
  get busySince(): number | null {
    return this.#batches.length === 0 ? null : this.#headSince;
  }

  #send(
    steps: readonly Step[],
    prepare: boolean,
    options: RunOptions,
    retries: number,
    resolve: (r: BatchResult) => void,
    reject: (e: unknown) => void,
  ): void {
    const w = this.#transport.idle()
      ? this.#writer.reset()
      : (this.#writer = new MessageWriter());
    const states: StepState[] = [];
    const created: Prepared[] = [];
    let hidden = 0;
    if (prepare && (this.#deallocate || this.#prepared.size > MAX_PREPARED)) {
      this.#deallocate = false;
      this.#prepared.clear();
      w.parse("", "DEALLOCATE ALL").bind("", []).describe("P", "").execute();
      states.push({ entry: null, columns: null, rows: [] });
      hidden = 1;
    }
    for (const st of steps) {
      if (!prepare) {
        w.parse("", st.text).bind("", st.params).describe("P", "").execute();
        states.push({ entry: null, columns: null, rows: [] });
        continue;
      }
      let entry = this.#prepared.get(st.text);
      if (entry !== undefined && !entry.parsed) {
        // another batch in flight prepares it, and may fail before it does
        w.parse("", st.text).bind("", st.params).describe("P", "").execute();
        states.push({ entry: null, columns: null, rows: [] });
        continue;
      }
      if (entry === undefined) {
        entry = {
          text: st.text,
          name: `pgrst_${++this.#counter}`,
          columns: null,
          parsed: false,
        };
        this.#prepared.set(st.text, entry);
        created.push(entry);
        w.parse(entry.name, st.text).describe("S", entry.name);
      }
      w.bind(entry.name, st.params).execute();
      states.push({ entry, columns: entry.columns, rows: [] });
    }
    w.sync();
    if (this.#batches.length === 0) this.#headSince = Date.now();
    this.#batches.push({
      sent: steps,
      options,
      retries,
      steps: states,
      hidden,
      idx: 0,
      error: null,
      created,
      resolve,
      reject,
    });
    // a batch behind others goes out with whatever else is queued this turn
    this.#transport.write(w.bytes(), this.#batches.length > 1);
    // a large body's buffer is not kept for every later batch
    if (w.capacity > MAX_KEPT_WRITER_BYTES) this.#writer = new MessageWriter();
  }

  /**
   * Asks the server to cancel what this connection is running (a
   * CancelRequest on a new connection); the running statement then fails
   * with 57014 and the batch ends as usual. Never throws.
   */
  async cancel(token?: object): Promise<void> {
    const running = this.#batches[0];
    if (this.#dead || running === undefined || this.backendPid === 0) {
      return;
    }
    // another request's batch runs now: the target has not started yet
    // (it then ends at its own statement_timeout) or has ended
    if (token !== undefined && running.options.token !== token) return;
    try {
      const c = await openDeno(this.#opts);
      try {
        // the batch may have ended (and the connection gone to another
        // request) while the cancel connection opened: cancel only its own
        if (this.#batches[0] !== running) return;
        this.#cancelled = { target: running, at: Date.now() };
        const req = cancelRequest(this.backendPid, this.backendSecret);
        let off = 0;
        while (off < req.length) off += await c.write(req.subarray(off));
      } finally {
        c.close();
      }
    } catch { /* the statement runs to its end or its statement_timeout */ }
  }

  /** Closes the connection (politely when it is still up). */
  close(): void {
    if (!this.#dead) {
      try {
        this.#transport.write(new MessageWriter().terminate().bytes());
      } catch { /* closing anyway */ }
    }
    this.#transport.close();
    this.#lost(null);
  }

  #lost(e: unknown): void {
    if (this.#dead) return;
    this.#dead = true;
    const why = new ConnectionLost(
      e instanceof Error
        ? `connection lost: ${e.message}`
        : "connection closed",
    );
    this.#startup?.reject(why);
    this.#startup = null;
    for (const b of this.#batches.splice(0)) b.reject(why);
    this.#onDead?.();
  }

  #onData(chunk: Uint8Array): void {
    this.#reader.push(chunk);
    try {
      for (;;) {
        const m = this.#reader.next();
        if (m === null) return;
        if (this.#startup !== null) this.#onStartupMessage(m.type, m.body);
        else this.#onMessage(m.type, m.body);
      }
    } catch (e) {
      this.#transport.close();
      this.#lost(e);
    }
  }

  #onStartupMessage(type: number, body: Uint8Array): void {
    const s = this.#startup!;
    const o = this.#opts;
    switch (type) {
      case 0x52: { // R: Authentication
        const { code, data } = readAuthentication(body);
        const w = new MessageWriter();
        if (code === 0) return;
        if (code === 3 || code === 5 || code === 10) {
          if (o.password === "") {
            throw new Error(
              "the database asks for a password and db-uri has none",
            );
          }
        }
        if (code === 3) w.password(o.password);
        else if (code === 5) {
          w.password(md5Password(o.user, o.password, data.subarray(0, 4)));
        } else if (code === 10) {
          if (!readSaslMechanisms(data).includes("SCRAM-SHA-256")) {
            throw new Error("unsupported SASL mechanism");
          }
          s.scram = scramClient(o.password);
          w.saslInitial("SCRAM-SHA-256", encoder.encode(s.scram.first));
        } else if (code === 11) {
          if (s.scram === null) throw new Error("unexpected SASLContinue");
          w.saslResponse(encoder.encode(s.scram.final(decoder.decode(data))));
        } else if (code === 12) {
          if (s.scram === null) throw new Error("unexpected SASLFinal");
          s.scram.verify(decoder.decode(data));
          return;
        } else {
          throw new Error(`unsupported authentication method (${code})`);
        }
        this.#transport.write(w.bytes());
        return;
      }
      case 0x4b: { // K: BackendKeyData
        const k = readBackendKey(body);
        this.backendPid = k.pid;
        this.backendSecret = k.secret;
        return;
      }
      case 0x45: { // E
        this.#startup = null;
        const f = readErrorFields(body);
        s.reject(new ConnectRefused(f.message, f.code));
        return;
      }
      case 0x5a: // Z
        this.#startup = null;
        s.resolve();
        return;
      default: // S ParameterStatus, N NoticeResponse
        return;
    }
  }

  #onMessage(type: number, body: Uint8Array): void {
    const b = this.#batches[0];
    switch (type) {
      case 0x44: { // D: DataRow
        if (b === undefined) return;
        const st = b.steps[b.idx];
        if (st === undefined) return;
        st.rows.push(readDataRow(body, st.columns ?? st.entry?.columns ?? []));
        return;
      }
      case 0x43: // C: CommandComplete
      case 0x49: // I: EmptyQueryResponse
        if (b !== undefined) b.idx++;
        return;
      case 0x31: { // 1: ParseComplete
        const st = b?.steps[b.idx];
        if (st?.entry) st.entry.parsed = true;
        return;
      }
      case 0x54: { // T: RowDescription
        const st = b?.steps[b.idx];
        if (st === undefined) return;
        const cols = readRowDescription(body);
        st.columns = cols;
        if (st.entry !== null && st.entry.columns === null) {
          st.entry.columns = cols;
        }
        return;
      }
      case 0x6e: { // n: NoData
        const st = b?.steps[b.idx];
        if (st === undefined) return;
        st.columns = [];
        if (st.entry !== null && st.entry.columns === null) {
          st.entry.columns = [];
        }
        return;
      }
      case 0x45: // E: ErrorResponse
        if (b !== undefined && b.error === null) {
          b.error = new PgServerError(readErrorFields(body));
        }
        return;
      case 0x5a: { // Z: ReadyForQuery
        if (b === undefined) return;
        this.#batches.shift();
        // the next batch, if any, runs from now on
        this.#headSince = Date.now();
        for (const p of b.created) {
          if (!p.parsed && this.#prepared.get(p.text) === p) {
            this.#prepared.delete(p.text);
          }
        }
        const status = String.fromCharCode(body[0] ?? 0x49);
        if (status === "I" && this.#hitByOthersCancel(b)) {
          // nothing of it was committed: once more, unprepared
          this.#send(
            b.sent,
            false,
            b.options,
            b.retries + 1,
            b.resolve,
            b.reject,
          );
          return;
        }
        b.resolve({
          rows: b.steps.slice(b.hidden).map((s) => s.rows),
          error: b.error,
          txStatus: status === "T" || status === "E" ? status : "I",
        });
        return;
      }
      default: // 2 BindComplete, t ParameterDescription, 3 CloseComplete,
        // N NoticeResponse, S ParameterStatus, A NotificationResponse
        return;
    }
  }

  /**
   * Whether a retryable batch failed with query_canceled within a second
   * of a cancel meant for another batch (which ended just before it
   * arrived).
   */
  #hitByOthersCancel(b: Batch): boolean {
    const c = this.#cancelled;
    return b.options.retryable === true && b.retries < MAX_CANCEL_RETRIES &&
      b.error?.code === "57014" &&
      c !== null && c.target !== b && Date.now() - c.at < 1000;
  }
}
