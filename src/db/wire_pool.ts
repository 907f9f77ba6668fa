/**
 * Owns the pool of request connections ({@linkcode WireConnection}): at
 * most `max` of them, opened on demand, handed to one request at a time in
 * arrival order, closed after `idleTimeoutMs` unused or `maxLifetimeMs` old,
 * and dropped when they die.
 *
 * A request whose transaction is one batch and a whole implicit transaction
 * may share a connection (`acquire(true)`): when all `max` connections are
 * busy and nobody waits, it joins the shared connection with the fewest
 * batches in flight (at most `pipelineDepth`) whose running batch started
 * less than `joinMaxAgeMs` ago ({@linkcode JOIN_MAX_AGE_MS}), and its batch
 * is pipelined behind theirs, as postgres.js pipelines queries. A request
 * that joins waits for the batches ahead of it, not for the acquisition
 * timeout: the age limit keeps requests from queueing behind a batch that
 * already runs long (one that turns slow after they joined still delays
 * them). PostgreSQL then reads and
 * answers several transactions per wake-up. A connection serves its waiters
 * only once every holder is done. A request that waits longer than the
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
  /**
   * Most requests sharing one connection (batches in flight on it); 1: no
   * sharing.
   */
  readonly pipelineDepth?: number;
  /**
   * A connection whose running batch started this long ago takes no one
   * else ({@linkcode JOIN_MAX_AGE_MS} by default).
   */
  readonly joinMaxAgeMs?: number;
}

/**
 * A connection whose running batch started longer ago than this takes no
 * one else: short enough that few requests queue behind a slow statement,
 * long enough for the sub-millisecond statements pipelining is for.
 */
export const JOIN_MAX_AGE_MS = 5;

/**
 * Requests sharing one connection by default: none, one request per
 * connection as in PostgREST (sharing raises the tail latency, see README).
 */
export const DEFAULT_PIPELINE_DEPTH = 1;

interface Waiter {
  readonly shared: boolean;
  readonly deadline: number;
  readonly resolve: (c: WireConnection) => void;
  readonly reject: (e: unknown) => void;
}

/** The request connection pool. */
export class WirePool {
  #connect: ConnectOptions;
  #o: WirePoolOptions;
  #idle: WireConnection[] = [];
  /** Connections handed out to at least one holder. */
  #busy = new Set<WireConnection>();
  /** Shared connections a holder found unhealthy: closed once free. */
  #retired = new WeakSet<WireConnection>();
  #waiters: Waiter[] = [];
  /** Open or opening connections. */
  #size = 0;
  #timeouts = 0;
  #generation = 0;
  #closed = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(connect: ConnectOptions, options: WirePoolOptions) {
    this.#connect = connect;
    this.#o = options;
  }

  /**
   * A connection for one request; give it back with `release`. `shared`:
   * the request runs one batch that is a whole implicit transaction, so it
   * may share a busy connection (see the module doc).
   */
  acquire(shared = false): Promise<WireConnection> {
    if (this.#closed) return Promise.reject(new Error("pool closed"));
    const idle = this.#takeIdle();
    if (idle !== null) {
      this.#hold(idle, shared);
      return Promise.resolve(idle);
    }
    if (shared && this.#size >= this.#o.max && this.#waiters.length === 0) {
      const c = this.#joinable(Date.now());
      if (c !== null) {
        this.#prepare(c);
        this.#hold(c, true);
        return Promise.resolve(c);
      }
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({
        shared,
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
    c.holders--;
    const now = Date.now();
    if (c.holders > 0) {
      // still shared: others' batches are in flight on it
      if (healthy) this.#serveSharedWaiters(c, now);
      else {
        // takes no one else, and is closed when its last holder is done
        c.shared = false;
        this.#retired.add(c);
      }
      return;
    }
    this.#busy.delete(c);
    c.shared = false;
    if (
      !healthy || c.dead || this.#closed || this.#retired.has(c) ||
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
      // connections, not requests: several requests may share one
      inUse: this.#busy.size,
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

  #hold(c: WireConnection, shared: boolean): void {
    if (c.holders === 0) c.shared = shared;
    c.holders++;
    this.#busy.add(c);
  }

  #depth(): number {
    return this.#o.pipelineDepth ?? DEFAULT_PIPELINE_DEPTH;
  }

  #maxAge(): number {
    return this.#o.joinMaxAgeMs ?? JOIN_MAX_AGE_MS;
  }

  /** The shared connection a request may join now, or null. */
  #joinable(now: number): WireConnection | null {
    const depth = this.#depth();
    if (depth <= 1) return null;
    let best: WireConnection | null = null;
    for (const c of this.#busy) {
      if (!c.shared || c.dead || c.holders >= depth) continue;
      if (c.pending >= depth) continue;
      const since = c.busySince;
      if (since !== null && now - since >= this.#maxAge()) continue;
      if (best === null || c.holders < best.holders) best = c;
    }
    return best;
  }

  /** Hands a shared connection with room to the sharing waiters first in line. */
  #serveSharedWaiters(c: WireConnection, now: number): void {
    while (
      c.shared && !c.dead && c.holders < this.#depth() &&
      this.#waiters[0]?.shared === true
    ) {
      const since = c.busySince;
      if (since !== null && now - since >= this.#maxAge()) return;
      const w = this.#waiters.shift()!;
      this.#prepare(c);
      this.#hold(c, true);
      w.resolve(c);
    }
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
      this.#prepare(c);
      this.#hold(c, w.shared);
      w.resolve(c);
      if (w.shared) this.#serveSharedWaiters(c, Date.now());
      return;
    }
    c.idleSince = Date.now();
    this.#idle.push(c);
    this.#ensureTimer();
  }

  #discard(c: WireConnection): void {
    this.#busy.delete(c);
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
        c.shared = false;
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
