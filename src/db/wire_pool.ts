/**
 * Owns the pool of request connections ({@linkcode WireConnection}): at
 * most `max` of them, opened on demand, handed to one request at a time in
 * arrival order, closed after `idleTimeoutMs` unused or `maxLifetimeMs` old,
 * and dropped when they die. A request that waits longer than the
 * acquisition timeout fails with PGRST003; one whose connection cannot be
 * opened fails with the connection error, at once (no retry queue, so an
 * outage answers 503 instead of piling requests up).
 *
 * @module
 */

import { poolTimeout } from "../error.ts";
import type { ConnectOptions } from "./connect_options.ts";
import { WireConnection } from "./wire_connection.ts";

/** Pool settings. */
export interface WirePoolOptions {
  readonly max: number;
  /** Close a connection unused this long (0: never). */
  readonly idleTimeoutMs: number;
  /** Close a connection this old when it is released (0: never). */
  readonly maxLifetimeMs: number;
  /** How long a request may wait for a connection. */
  readonly acquireTimeoutMs: number;
}

interface Waiter {
  readonly deadline: number;
  readonly resolve: (c: WireConnection) => void;
  readonly reject: (e: unknown) => void;
}

/** The request connection pool. */
export class WirePool {
  #connect: ConnectOptions;
  #o: WirePoolOptions;
  #idle: WireConnection[] = [];
  #waiters: Waiter[] = [];
  /** Open or opening connections. */
  #size = 0;
  #inUse = 0;
  #timeouts = 0;
  #generation = 0;
  #closed = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(connect: ConnectOptions, options: WirePoolOptions) {
    this.#connect = connect;
    this.#o = options;
  }

  /** A connection for one request; give it back with `release`. */
  acquire(): Promise<WireConnection> {
    if (this.#closed) return Promise.reject(new Error("pool closed"));
    const idle = this.#takeIdle();
    if (idle !== null) {
      this.#inUse++;
      return Promise.resolve(idle);
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({
        deadline: Date.now() + this.#o.acquireTimeoutMs,
        resolve,
        reject,
      });
      this.#ensureTimer();
      if (this.#size < this.#o.max) this.#open();
    });
  }

  /** Gives a connection back; `healthy: false` closes it. */
  release(c: WireConnection, healthy: boolean): void {
    this.#inUse--;
    const now = Date.now();
    if (
      !healthy || c.dead || this.#closed ||
      (this.#o.maxLifetimeMs > 0 && now - c.createdAt > this.#o.maxLifetimeMs)
    ) {
      this.#discard(c);
      if (this.#waiters.length > 0 && this.#size < this.#o.max) this.#open();
      return;
    }
    this.#handOut(c);
  }

  /** Makes every connection drop its prepared statements before next use. */
  invalidate(): void {
    this.#generation++;
  }

  stats(): { max: number; inUse: number; waiting: number; timeouts: number } {
    return {
      max: this.#o.max,
      inUse: this.#inUse,
      waiting: this.#waiters.length,
      timeouts: this.#timeouts,
    };
  }

  /** Closes idle connections now and the others when they are released. */
  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) this.#discard(c);
    for (const w of this.#waiters.splice(0)) w.reject(new Error("pool closed"));
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #takeIdle(): WireConnection | null {
    for (;;) {
      const c = this.#idle.pop();
      if (c === undefined) return null;
      if (c.dead) continue; // its onDead already counted it out
      this.#prepare(c);
      return c;
    }
  }

  #prepare(c: WireConnection): void {
    if (c.generation !== this.#generation) {
      c.generation = this.#generation;
      c.invalidate();
    }
  }

  #handOut(c: WireConnection): void {
    const w = this.#waiters.shift();
    if (w !== undefined) {
      this.#inUse++;
      this.#prepare(c);
      w.resolve(c);
      return;
    }
    c.idleSince = Date.now();
    this.#idle.push(c);
    this.#ensureTimer();
  }

  #discard(c: WireConnection): void {
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
    if (!c.dead) c.close();
  }

  #open(): void {
    this.#size++;
    WireConnection.connect(this.#connect).then((c) => {
      c.generation = this.#generation;
      c.onDead(() => {
        this.#size--;
        const i = this.#idle.indexOf(c);
        if (i >= 0) this.#idle.splice(i, 1);
      });
      if (this.#closed) {
        c.close();
        return;
      }
      this.#handOut(c);
    }, (e: unknown) => {
      this.#size--;
      // the oldest waiter gets the failure; the next one gets its own try
      this.#waiters.shift()?.reject(e);
      if (this.#waiters.length > 0 && this.#size < this.#o.max) this.#open();
    });
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#tick(), 100);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  #tick(): void {
    const now = Date.now();
    while (this.#waiters.length > 0 && this.#waiters[0]!.deadline <= now) {
      this.#timeouts++;
      this.#waiters.shift()!.reject(poolTimeout());
    }
    if (this.#o.idleTimeoutMs > 0) {
      for (const c of [...this.#idle]) {
        if (now - c.idleSince > this.#o.idleTimeoutMs) this.#discard(c);
      }
    }
    if (this.#waiters.length === 0 && this.#idle.length === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
