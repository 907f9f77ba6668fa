/**
 * Owns {@linkcode Deadlines}: many timeouts on one timer. A per-request
 * `setTimeout`/`clearTimeout` pair costs several µs of JavaScript per
 * request (Deno's timers are Node's, with a `Timeout` object, a list and a
 * native timer each); here a request's deadline is an entry in an
 * insertion-ordered set, and one unref'd timer, armed for the earliest
 * deadline, fires the entries that are due. A finished request only leaves
 * the set. As all requests share one timeout, deadlines arrive in order and
 * the timer fires about once per timeout period under steady load.
 *
 * @module
 */

/** A watched deadline ({@linkcode Deadlines.add}). */
export interface Deadline {
  /** `performance.now()` at which it is due. */
  readonly at: number;
  readonly onTimeout: () => void;
}

/** Timeouts that share one timer; a deadline fires at most once. */
export class Deadlines {
  readonly #entries = new Set<Deadline>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer is due (Infinity when none is armed). */
  #armedAt = Infinity;
  readonly #now: () => number;

  /** `now` is in ms (tests pass a clock of their own). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Calls `onTimeout` in `ms` milliseconds unless deleted before. */
  add(ms: number, onTimeout: () => void): Deadline {
    const d: Deadline = { at: this.#now() + ms, onTimeout };
    this.#entries.add(d);
    if (d.at < this.#armedAt) this.#arm(d.at);
    return d;
  }

  /** Forgets a deadline (its request finished); the timer stays as it is. */
  delete(d: Deadline): void {
    this.#entries.delete(d);
  }

  /** Deadlines still watched (for tests). */
  get size(): number {
    return this.#entries.size;
  }

  /** Stops the timer; deadlines still watched never fire. */
  clear(): void {
    this.#entries.clear();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedAt = at;
    const t = setTimeout(
      () => this.#fire(),
      Math.max(1, Math.ceil(at - this.#now())),
    );
    // a watched request never keeps the process alive by itself
    Deno.unrefTimer(t as unknown as number);
    this.#timer = t;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#now();
    const due: Deadline[] = [];
    let next = Infinity;
    for (const d of this.#entries) {
      if (d.at <= now) due.push(d);
      else if (d.at < next) next = d.at;
    }
    for (const d of due) this.#entries.delete(d);
    if (next !== Infinity) this.#arm(next);
    for (const d of due) d.onTimeout();
  }
}
