/**
 * The worker side of {@link ./body_parser.ts}: parses large JSON write bodies
 * off the main thread with `parseJsonBody` (the rules of every write) and
 * posts back the `Payload`, or the PostgREST error it threw.
 *
 * Started by `new Worker(new URL("./body_worker.ts", import.meta.url))`;
 * `deno compile` needs it named with `--include` (the `compile` task and the
 * Dockerfile do).
 *
 * @module
 */

import type { BodyJob, BodyReply } from "./body_parser.ts";
import { parseJsonBody } from "./api_request/payload.ts";
import { PgrstError } from "./error.ts";

/** The worker's own global scope (lib.deno.worker is not in this program). */
interface WorkerScope {
  onmessage: ((e: MessageEvent<BodyJob>) => void) | null;
  postMessage(message: BodyReply): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent<BodyJob>) => {
  const { id, bytes, checkKeys, wantFirst } = e.data;
  let reply: BodyReply;
  try {
    const p = parseJsonBody(bytes, checkKeys);
    // the first row goes back as text: a large object is slower to clone
    // than to parse, and only function calls read it
    const firstJson = !wantFirst || p.first === null
      ? null
      : p.single
      ? p.json.slice(1, -1)
      : JSON.stringify(p.first);
    reply = { id, ok: true, payload: { ...p, first: null }, firstJson };
  } catch (err) {
    const known = err instanceof PgrstError;
    reply = {
      id,
      ok: false,
      error: {
        status: known ? err.status : 400,
        code: known ? err.code : "PGRST102",
        message: known ? err.message : "Empty or invalid json",
        details: known ? err.details : null,
        hint: known ? err.hint : null,
      },
    };
  }
  scope.postMessage(reply);
};

// loaded: the parser may send its jobs' bytes now
scope.postMessage({ ready: true });
