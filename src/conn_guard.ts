/**
 * Owns the connection guard (`server-header-read-timeout`, pgrest's
 * extension): protection from slow clients that Deno's HTTP server lacks
 * (Deno 2.9 has no header-read or idle timeout and no connection cap). The
 * guard accepts TCP connections itself and, per connection:
 *
 * - closes it when the first request's header section has not arrived
 *   within the timeout (slowloris), or grows past `server-max-header-bytes`
 *   plus 8 KiB (431);
 * - refuses connections beyond `server-max-connections` (503);
 * - closes it once it has been silent for the timeout after the server's
 *   last bytes (an idle keep-alive connection; never while a request waits
 *   for its answer);
 * - otherwise relays the bytes both ways to `Deno.serve` on a private unix
 *   socket.
 *
 * Later requests on a kept-alive connection get the same header deadline:
 * the relay follows the request framing (Content-Length and chunked
 * bodies) to know when a header section is arriving. The relay costs a
 * socket hop per request; the handler sees the unix socket as the remote
 * address.
 *
 * @module
 */

import type { LogLevel } from "./config/types.ts";
import type { PgrstError } from "./error.ts";
import { headersTooLarge, tooManyConnections } from "./limits.ts";
import { log } from "./log.ts";

/** Options of {@linkcode serveGuarded}. */
export interface GuardOptions {
  readonly hostname: string;
  readonly port: number;
  readonly reusePort: boolean;
  /** Seconds for the first request's header section, and of idleness. */
  readonly headerReadTimeout: number;
  /** Connections open at once (0: no limit). */
  readonly maxConnections: number;
  /** `server-max-header-bytes`: the header section's limit. */
  readonly maxHeaderBytes: number;
  readonly logLevel: LogLevel;
  readonly onListen?: (addr: Deno.NetAddr) => void;
}

/** A running guard: the same life cycle as `Deno.HttpServer`. */
export interface GuardedServer {
  readonly addr: Deno.NetAddr;
  /** Settles when the guard stops; rejects when accepting failed. */
  readonly finished: Promise<void>;
  /** Stops accepting, closes idle connections, lets requests finish. */
  shutdown(): Promise<void>;
}

/** Where `\r\n\r\n` ends in `data`, searching from `from`, or -1. */
export function headerEnd(data: Uint8Array, from: number): number {
  let i = data.indexOf(13, Math.max(0, from));
  while (i >= 0 && i + 3 < data.length) {
    if (data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) {
      return i + 4;
    }
    i = data.indexOf(13, i + 1);
  }
  return -1;
}

/** Reason phrases of the answers the guard writes itself. */
const REASONS: Readonly<Record<number, string>> = {
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/**
 * A whole HTTP/1.1 answer for `err`, written on the raw connection before
 * it is closed: the JSON body and headers pgrest's handler would send.
 */
function rawError(err: PgrstError): Uint8Array {
  const body = JSON.stringify({
    code: err.code,
    details: err.details,
    hint: err.hint,
    message: err.message,
  });
  const extra = err.headers.map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return new TextEncoder().encode(
    `HTTP/1.1 ${err.status} ${REASONS[err.status] ?? "Error"}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\n${extra}` +
      `Content-Length: ${
        new TextEncoder().encode(body).length
      }\r\nConnection: close\r\n\r\n${body}`,
  );
}

const LATIN1 = new TextDecoder("latin1");

function latin1(bytes: readonly number[]): string {
  return LATIN1.decode(Uint8Array.from(bytes));
}

/**
 * Follows the framing of the requests a client sends on one connection
 * (HTTP/1.1: a header section, then a body of Content-Length bytes or
 * chunked), to know when a header section is being received. Bytes are
 * only looked at, never changed.
 */
export class RequestFraming {
  #state: "head" | "body" | "size" | "data" | "crlf" | "trailer" = "head";
  /** Bytes of the header section so far. */
  #head: Uint8Array = new Uint8Array(0);
  /** Bytes of a chunk-size or trailer line so far. */
  #line: number[] = [];
  #remaining = 0;
  /** When the current header section began (ms), or null between them. */
  headStartedAt: number | null = null;

  /** Whether a header section has begun and not yet ended. */
  get inHead(): boolean {
    return this.#state === "head" && this.headStartedAt !== null;
  }

  /** Feeds the next bytes from the client. */
  feed(bytes: Uint8Array, now: number): void {
    let i = 0;
    while (i < bytes.length) {
      switch (this.#state) {
        case "head": {
          if (this.headStartedAt === null) this.headStartedAt = now;
          const before = this.#head.length;
          const rest = bytes.subarray(i);
          const joined = new Uint8Array(before + rest.length);
          joined.set(this.#head);
          joined.set(rest, before);
          const end = headerEnd(joined, before - 3);
          if (end < 0) {
            // far past any header limit Deno accepts: keep the tail only
            this.#head = joined.length > 1 << 20 ? joined.slice(-3) : joined;
            i = bytes.length;
          } else {
            i += end - before;
            this.#endOfHead(joined.subarray(0, end));
          }
          break;
        }
        case "body":
        case "data": {
          const take = Math.min(this.#remaining, bytes.length - i);
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            this.#state = this.#state === "body" ? "head" : "crlf";
            this.#remaining = 2;
          }
          break;
        }
        case "crlf":
          i++;
          if (--this.#remaining === 0) this.#state = "size";
          break;
        case "size":
        case "trailer": {
          const b = bytes[i++] ?? 0;
          if (b !== 10) {
            if (this.#line.length < 4096) this.#line.push(b);
            break;
          }
          const line = latin1(this.#line).replace(/\r$/, "");
          this.#line = [];
          if (this.#state === "trailer") {
            if (line === "") this.#state = "head";
          } else {
            const size = parseInt(line.split(";")[0] ?? "", 16);
            if (!Number.isFinite(size) || size <= 0) this.#state = "trailer";
            else {
              this.#state = "data";
              this.#remaining = size;
            }
          }
          break;
        }
      }
    }
  }

  #endOfHead(section: Uint8Array): void {
    const head = LATIN1.decode(section).toLowerCase();
    this.#head = new Uint8Array(0);
    this.headStartedAt = null;
    if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
      this.#state = "size";
      return;
    }
    const m = /\r\ncontent-length:\s*(\d+)/.exec(head);
    const length = m === null ? 0 : Number(m[1]);
    if (length > 0) {
      this.#state = "body";
      this.#remaining = length;
    }
  }
}

/** One relayed connection. */
interface Relay {
  /** The client's requests: whether a header section is arriving. */
  readonly framing: RequestFraming;
  /** When a byte last went to the client (ms). */
  lastOut: number;
  /** Whether the client sent bytes after the server's last ones. */
  waiting: boolean;
  close(): void;
}

function closeQuietly(c: Deno.Conn | null): void {
  try {
    c?.close();
  } catch { /* already closed */ }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += await conn.write(data.subarray(at));
}

/**
 * Serves `handler` behind the connection guard on `hostname:port`.
 * @throws when the port or the private socket cannot be bound
 */
export function serveGuarded(
  opts: GuardOptions,
  handler: (request: Request) => Promise<Response>,
): GuardedServer {
  const dir = Deno.makeTempDirSync({ prefix: "pgrest-guard-" });
  const path = `${dir}/http.sock`;
  const inner = Deno.serve({ path, onListen: () => {} }, handler);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({
      hostname: opts.hostname,
      port: opts.port,
      reusePort: opts.reusePort,
    });
  } catch (e) {
    void inner.shutdown().finally(() =>
      Deno.remove(dir, { recursive: true }).catch(() => {})
    );
    throw e;
  }
  const addr = listener.addr;
  opts.onListen?.(addr);
  const timeoutMs = opts.headerReadTimeout * 1000;
  const relays = new Set<Relay>();
  let connections = 0;
  let stopping = false;

  // one sweep for every connection: idle after the server's last bytes
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const r of relays) {
      const head = r.framing.headStartedAt;
      if (head !== null && r.framing.inHead && now - head > timeoutMs) {
        // a later request's header section, too slow
        r.close();
      } else if (!r.waiting && now - r.lastOut > timeoutMs) r.close();
    }
  }, Math.min(1000, timeoutMs));

  async function handle(conn: Deno.TcpConn): Promise<void> {
    // the first request's header section, within the deadline
    let data = new Uint8Array(0);
    const limit = opts.maxHeaderBytes + 8192;
    const deadline = setTimeout(() => closeQuietly(conn), timeoutMs);
    try {
      const chunk = new Uint8Array(16 * 1024);
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) return closeQuietly(conn);
        const next = new Uint8Array(data.length + n);
        next.set(data);
        next.set(chunk.subarray(0, n), data.length);
        const searchFrom = data.length - 3;
        data = next;
        if (headerEnd(data, searchFrom) >= 0) break;
        if (data.length > limit) {
          await writeAll(
            conn,
            rawError(headersTooLarge(opts.maxHeaderBytes)),
          ).catch(() => {});
          return closeQuietly(conn);
        }
      }
    } catch {
      // closed by the deadline, or reset by the client
      return closeQuietly(conn);
    } finally {
      clearTimeout(deadline);
    }
    let upstream: Deno.UnixConn | null = null;
    try {
      upstream = await Deno.connect({ transport: "unix", path });
      await writeAll(upstream, data);
    } catch {
      closeQuietly(upstream);
      return closeQuietly(conn);
    }
    const up = upstream;
    const framing = new RequestFraming();
    framing.feed(data, Date.now());
    const relay: Relay = {
      framing,
      lastOut: Date.now(),
      waiting: true,
      close() {
        closeQuietly(conn);
        closeQuietly(up);
      },
    };
    relays.add(relay);
    // plain read/write loops: cheaper than streams with a transform
    const pump = async (
      from: Deno.Conn,
      to: Deno.Conn,
      toClient: boolean,
    ): Promise<void> => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        if (toClient) {
          relay.waiting = false;
          relay.lastOut = Date.now();
        } else {
          relay.waiting = true;
          framing.feed(buf.subarray(0, n), Date.now());
        }
        await writeAll(to, buf.subarray(0, n));
      }
    };
    try {
      await Promise.race([pump(conn, up, false), pump(up, conn, true)]);
    } catch {
      // either side went away
    } finally {
      relays.delete(relay);
      relay.close();
    }
  }

  const finished = (async () => {
    try {
      for await (const conn of listener) {
        if (opts.maxConnections > 0 && connections >= opts.maxConnections) {
          void writeAll(
            conn,
            rawError(tooManyConnections(opts.maxConnections)),
          ).catch(() => {}).finally(() => closeQuietly(conn));
          continue;
        }
        connections++;
        void handle(conn).finally(() => connections--);
      }
    } catch (e) {
      if (!stopping) {
        log(
          "error",
          `connection guard: accepting failed: ${
            e instanceof Error ? e.message : String(e)
          }`,
          opts.logLevel,
        );
        await stop();
        throw e;
      }
    }
  })();

  async function stop(): Promise<void> {
    stopping = true;
    clearInterval(sweep);
    try {
      listener.close();
    } catch { /* closed */ }
    // idle connections go now; requests in progress finish
    for (const r of relays) if (!r.waiting) r.close();
    await inner.shutdown();
    for (const r of relays) r.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  return {
    addr,
    finished,
    async shutdown() {
      if (stopping) return;
      await stop();
      await finished.catch(() => {});
    },
  };
}
