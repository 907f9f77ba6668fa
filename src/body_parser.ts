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
  /** Whether the first row is wanted (function calls), as JSON text. */
  readonly wantFirst: boolean;
}

/** What the worker posts: that it is ready, or the answer to one job. */
export type BodyReply =
  | { readonly ready: true }
  | {
    readonly id: number;
    readonly ok: true;
    /** The payload without `first` (a large object is slow to clone). */
    readonly payload: Payload;
    /** The first row as JSON text, when the job wanted it. */
    readonly firstJson: string | null;
  }
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

interface Job {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly checkKeys: boolean;
  readonly wantFirst: boolean;
  readonly resolve: (p: Payload) => void;
  readonly reject: (e: unknown) => void;
}

/** Parses JSON write bodies, the large ones on a worker thread. */
export class BodyParser {
  #worker: Worker | null = null;
  /** Whether the worker has loaded (it posts `ready`). */
  #ready = false;
  /** Jobs waiting for the worker to load: their bytes are still here. */
  #held: Job[] = [];
  /** Jobs posted to the worker, by id. */
  #waiting = new Map<number, Job>();
  #next = 1;
  #idle: ReturnType<typeof setTimeout> | null = null;
  #disabled = false;
  /** Closed (the server stopped): later bodies are parsed in place. */
  #closed = false;
  readonly #minBytes: number;
  readonly #idleMs: number;
  readonly #workerUrl: URL;

  constructor(
    minBytes = OFF_THREAD_MIN_BYTES,
    idleMs = IDLE_MS,
    workerUrl = new URL("./body_worker.ts", import.meta.url),
  ) {
    this.#minBytes = minBytes;
    this.#idleMs = idleMs;
    this.#workerUrl = workerUrl;
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
   * transferred to the worker once it has loaded: `bytes` may be empty
   * afterwards. `wantFirst` (function calls) keeps the first row; without
   * it `first` is null for a body parsed on the worker.
   * @throws {PgrstError} PGRST102
   */
  parse(
    bytes: Uint8Array,
    checkKeys: boolean,
    wantFirst = false,
  ): Promise<Payload> {
    if (bytes.byteLength < this.#minBytes || !this.#start()) {
      return inPlace(bytes, checkKeys);
    }
    if (this.#idle !== null) clearTimeout(this.#idle);
    this.#idle = null;
    return new Promise<Payload>((resolve, reject) => {
      const job = {
        id: this.#next++,
        bytes,
        checkKeys,
        wantFirst,
        resolve,
        reject,
      };
      if (this.#ready) this.#post(job);
      else this.#held.push(job);
    });
  }

  /**
   * Stops the worker; jobs still waiting fail. A body parsed afterwards (a
   * request still being read when the server stopped) is parsed in place:
   * no worker starts again.
   */
  close(): void {
    this.#closed = true;
    this.#stop(new Error("the body parser was closed"));
  }

  /** Starts the worker if need be; false when there can be none. */
  #start(): boolean {
    if (this.#worker !== null) return true;
    if (this.#disabled || this.#closed) return false;
    let worker: Worker;
    try {
      worker = new Worker(this.#workerUrl, { type: "module" });
    } catch (e) {
      this.#disable(e);
      return false;
    }
    worker.onmessage = (e: MessageEvent<BodyReply>) => this.#reply(e.data);
    worker.onmessageerror = () => {
      this.#stop(new Error("a reply of the body parser's worker was lost"));
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      if (this.#ready) {
        // it ran and failed: the jobs it held are lost (their bytes moved)
        this.#stop(new Error("the body parser's worker failed"));
        return;
      }
      // it never loaded (e.g. a binary compiled without it): parse here
      this.#disable(e.message);
      const held = this.#held.splice(0);
      this.#stop(new Error("the body parser's worker did not start"));
      for (const j of held) {
        inPlace(j.bytes, j.checkKeys).then(j.resolve, j.reject);
      }
    };
    this.#worker = worker;
    this.#ready = false;
    return true;
  }

  #post(job: Job): void {
    const worker = this.#worker;
    if (worker === null) {
      job.reject(new Error("the body parser's worker is gone"));
      return;
    }
    this.#waiting.set(job.id, job);
    // the bytes move to the worker (a structured-clone copy of 2 MB costs
    // the main thread some 2 ms): a view of a larger buffer is copied first
    const { bytes } = job;
    const buffer = bytes.buffer instanceof ArrayBuffer &&
        bytes.byteOffset === 0 &&
        bytes.byteLength === bytes.buffer.byteLength
      ? bytes.buffer
      : bytes.slice().buffer;
    const message: BodyJob = {
      id: job.id,
      bytes: new Uint8Array(buffer),
      checkKeys: job.checkKeys,
      wantFirst: job.wantFirst,
    };
    worker.postMessage(message, [buffer]);
  }

  #reply(r: BodyReply): void {
    if ("ready" in r) {
      this.#ready = true;
      for (const j of this.#held.splice(0)) this.#post(j);
      return;
    }
    const job = this.#waiting.get(r.id);
    if (job === undefined) return;
    this.#waiting.delete(r.id);
    if (r.ok) {
      const first = r.firstJson === null
        ? null
        : JSON.parse(r.firstJson) as Record<string, unknown>;
      job.resolve({ ...r.payload, first });
    } else {
      const { status, code, message, details, hint } = r.error;
      job.reject(new PgrstError(status, code, message, { details, hint }));
    }
    if (this.#waiting.size === 0 && this.#held.length === 0) {
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
    this.#ready = false;
    const jobs = [...this.#waiting.values(), ...this.#held.splice(0)];
    this.#waiting.clear();
    for (const j of jobs) j.reject(reason);
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

function inPlace(bytes: Uint8Array, checkKeys: boolean): Promise<Payload> {
  try {
    return Promise.resolve(parseJsonBody(bytes, checkKeys));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The process's parser (one worker for the whole server). */
export const bodyParser: BodyParser = new BodyParser();

/**
 * The request with its JSON body parsed when it is a table write or a
 * function call (`payload` set; the large ones on the worker); any other
 * request as it is, for the plan to read. The body is parsed before the
 * target is looked up, as PostgREST parses it while reading the request, so
 * an invalid body is 400 PGRST102 whatever the target and the body's size.
 * @throws {PgrstError} PGRST102
 */
export async function withParsedBody(
  parser: BodyParser,
  req: ApiRequest,
): Promise<ApiRequest> {
  const { body } = req;
  // a function call without a body byte has no arguments (call.ts)
  if (
    body === null || body.byteLength === 0 && req.target.kind !== "relation"
  ) {
    return req;
  }
  const write = req.target.kind === "relation" &&
    (req.method === "POST" || req.method === "PATCH" || req.method === "PUT");
  const call = req.target.kind === "routine" && req.method === "POST";
  if (!write && !call) return req;
  if (!isJsonBody(req.contentType)) return req;
  const payload = await parser.parse(body, req.params.columns === null, call);
  // the bytes may have gone to the worker; the plan reads `payload`
  return { ...req, body: null, payload };
}
