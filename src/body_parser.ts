/**
 * Owns where large JSON write bodies are parsed: on a worker thread, so that
 * a multi-megabyte body (`JSON.parse` and the key check, some 10 ms for
 * 2 MB) does not stall every other request waiting on the main thread.
 * Bodies under {@link OFF_THREAD_MIN_BYTES} are parsed in place: posting a
 * job costs more than parsing them.
 *
 * One worker, started with the first large body and stopped after
 * {@link IDLE_MS} without one, so that its heap is given back; jobs queue in
 * it in order. When no worker can be started (e.g. a compiled binary built
 * without `--include src/body_worker.ts`), or one fails, bodies are parsed
 * in place and a warning is logged once. The results are the same either
 * way: the worker runs `parseJsonBody`.
 *
 * @module
 */

import {
  isJsonBody,
  parseJsonBody,
  type Payload,
} from "./api_request/payload.ts";
import type { ApiRequest } from "./api_request/types.ts";
import { PgrstError } from "./error.ts";
import { log } from "./log.ts";

/** Bodies at least this large are parsed on the worker. */
export const OFF_THREAD_MIN_BYTES = 256 * 1024;
/** The worker stops after this long without a job. */
export const IDLE_MS = 10_000;

/** A job for the worker. */
export interface BodyJob {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly checkKeys: boolean;
}

/** The worker's answer to one job. */
export type BodyReply =
  | { readonly id: number; readonly ok: true; readonly payload: Payload }
  | {
    readonly id: number;
    readonly ok: false;
    readonly error: {
      readonly status: number;
      readonly code: string;
      readonly message: string;
      readonly details: unknown;
      readonly hint: unknown;
    };
  };

interface Waiter {
  readonly resolve: (p: Payload) => void;
  readonly reject: (e: unknown) => void;
}

/** Parses JSON write bodies, the large ones on a worker thread. */
export class BodyParser {
  #worker: Worker | null = null;
  #waiting = new Map<number, Waiter>();
  #next = 1;
  #idle: ReturnType<typeof setTimeout> | null = null;
  #disabled = false;
  readonly #minBytes: number;
  readonly #idleMs: number;

  constructor(minBytes = OFF_THREAD_MIN_BYTES, idleMs = IDLE_MS) {
    this.#minBytes = minBytes;
    this.#idleMs = idleMs;
  }

  /** Bodies at least this large go to the worker. */
  get minBytes(): number {
    return this.#minBytes;
  }

  /** Whether a worker is running (for tests). */
  get running(): boolean {
    return this.#worker !== null;
  }

  /**
   * Parses a JSON body as `parseJsonBody` does. A large body's bytes are
   * transferred to the worker: `bytes` is empty afterwards.
   * @throws {PgrstError} PGRST102
   */
  parse(bytes: Uint8Array, checkKeys: boolean): Promise<Payload> {
    const worker = bytes.byteLength >= this.#minBytes ? this.#start() : null;
    if (worker === null) {
      try {
        return Promise.resolve(parseJsonBody(bytes, checkKeys));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (this.#idle !== null) clearTimeout(this.#idle);
    this.#idle = null;
    const id = this.#next++;
    return new Promise<Payload>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      // the bytes move to the worker (a structured-clone copy of 2 MB costs
      // the main thread some 2 ms): a view of a larger buffer is copied
      // first, and the caller must not read them afterwards
      const buffer = bytes.buffer instanceof ArrayBuffer &&
          bytes.byteOffset === 0 &&
          bytes.byteLength === bytes.buffer.byteLength
        ? bytes.buffer
        : bytes.slice().buffer;
      const job: BodyJob = { id, bytes: new Uint8Array(buffer), checkKeys };
      worker.postMessage(job, [buffer]);
    });
  }

  /** Stops the worker; jobs still waiting fail. */
  close(): void {
    this.#stop(new Error("the body parser was closed"));
  }

  #start(): Worker | null {
    if (this.#worker !== null) return this.#worker;
    if (this.#disabled) return null;
    let worker: Worker;
    try {
      worker = new Worker(new URL("./body_worker.ts", import.meta.url), {
        type: "module",
      });
    } catch (e) {
      this.#disable(e);
      return null;
    }
    worker.onmessage = (e: MessageEvent<BodyReply>) => this.#reply(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#disable(e.message);
      this.#stop(new Error("the body parser's worker failed"));
    };
    this.#worker = worker;
    return worker;
  }

  #reply(r: BodyReply): void {
    const w = this.#waiting.get(r.id);
    if (w === undefined) return;
    this.#waiting.delete(r.id);
    if (r.ok) w.resolve(r.payload);
    else {
      const { status, code, message, details, hint } = r.error;
      w.reject(new PgrstError(status, code, message, { details, hint }));
    }
    if (this.#waiting.size === 0) {
      const idle = setTimeout(
        () => this.#stop(new Error("idle")),
        this.#idleMs,
      );
      Deno.unrefTimer(idle);
      this.#idle = idle;
    }
  }

  #stop(reason: Error): void {
    if (this.#idle !== null) clearTimeout(this.#idle);
    this.#idle = null;
    this.#worker?.terminate();
    this.#worker = null;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.reject(reason);
  }

  #disable(reason: unknown): void {
    if (this.#disabled) return;
    this.#disabled = true;
    log(
      "warn",
      `large request bodies are parsed on the main thread: no worker (${
        reason instanceof Error ? reason.message : String(reason)
      })`,
      "warn",
      true,
    );
  }
}

/** The process's parser (one worker for the whole server). */
export const bodyParser: BodyParser = new BodyParser();

/**
 * The request with its body parsed when it is a large JSON body of a table
 * write or a function call (`payload` set); any other request as it is, for
 * the plan to parse.
 * @throws {PgrstError} PGRST102
 */
export async function withParsedBody(
  parser: BodyParser,
  req: ApiRequest,
): Promise<ApiRequest> {
  const { body } = req;
  if (body === null || body.byteLength < parser.minBytes) return req;
  const write = req.target.kind === "relation" &&
    (req.method === "POST" || req.method === "PATCH" || req.method === "PUT");
  const call = req.target.kind === "routine" && req.method === "POST";
  if (!write && !call) return req;
  if (!isJsonBody(req.contentType)) return req;
  const payload = await parser.parse(body, req.params.columns === null);
  // the bytes went to the worker; the plan reads `payload`
  return { ...req, body: null, payload };
}
