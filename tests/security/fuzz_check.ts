/**
 * Owns the injection fuzzer's verdict on one answer (`violation`): no 5xx,
 * no secret marker, no canary marker (fuzz_private.canary() ran), 2xx JSON that parses, errors as PostgREST JSON objects
 * with `code`, `message`, `details` and `hint`, and no SQLSTATE that would
 * mean request text became SQL text; and the runner (`runFuzz`) that sends
 * generated requests some at a time, writes one at a time, with a timeout
 * per request, and collects the failures and a summary.
 *
 * @module
 */

import {
  CANARY_MARKER,
  describe,
  type FuzzRequest,
  SECRET_MARKER,
} from "./fuzz_gen.ts";

/**
 * SQLSTATEs of class 42 that a request can cause while every name stays a
 * quoted identifier and every value a bind parameter: a missing column or
 * type, a function or operator that does not exist for the types, a
 * privilege the role lacks, a cast that cannot be made, an ON CONFLICT
 * target without a unique index, a duplicate column in an INSERT list, a
 * column that is neither grouped nor aggregated (`select=*,id.sum()`), a
 * value for a GENERATED ALWAYS column.
 */
export const ALLOWED_42 = new Set([
  "42501", // insufficient_privilege
  "42703", // undefined_column (a quoted name that is no column)
  "42704", // undefined_object (a cast to a type that does not exist)
  "42883", // undefined_function (an operator or function for these types)
  "42804", // datatype_mismatch
  "42846", // cannot_coerce
  "42P10", // invalid_column_reference (on_conflict without a unique index)
  "42701", // duplicate_column
  "42725", // ambiguous_function
  "42803", // grouping_error
  "428C9", // generated_always (a value for an identity column)
]);

/** Why an answer fails the property, or null when it passes. */
export function violation(
  req: FuzzRequest,
  status: number,
  contentType: string | null,
  body: string,
): string | null {
  if (status >= 500) return `status ${status}`;
  if (body.includes(SECRET_MARKER)) return "the secret marker leaked";
  if (body.includes(CANARY_MARKER)) return "the canary ran: text became SQL";
  if (status < 400) {
    if (
      req.method !== "HEAD" && body !== "" &&
      /^application\/(vnd\.pgrst\.(object|array)\+)?json/.test(
        contentType ?? "",
      )
    ) {
      try {
        JSON.parse(body);
      } catch {
        return `a ${status} JSON body that does not parse`;
      }
    }
    return null;
  }
  if (req.method === "HEAD") {
    return body === "" ? null : "a HEAD error with a body";
  }
  if (!(contentType ?? "").startsWith("application/json")) {
    return `an error with Content-Type ${contentType}`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return "an error body that is not JSON";
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return "an error body that is not an object";
  }
  const keys = Object.keys(parsed).sort().join(",");
  if (keys !== "code,details,hint,message") return `error keys ${keys}`;
  const code = (parsed as Record<string, unknown>)["code"];
  if (typeof code !== "string") return "an error code that is not a string";
  const message = String((parsed as Record<string, unknown>)["message"]);
  if (code === "42601" && /^syntax error in ts(vector|query)\b/.test(message)) {
    // the input function of tsvector/tsquery rejecting a bound value
    return null;
  }
  if (code === "42602" && message === "invalid name syntax") {
    // a reg* input function (the fts language is a bound ::regconfig)
    return null;
  }
  if (code.startsWith("42") && !ALLOWED_42.has(code)) {
    return `SQLSTATE ${code} (request text may have become SQL)`;
  }
  return null;
}

/** What came back for one request. */
export interface Outcome {
  readonly status: number;
  readonly body: string;
  readonly contentType: string | null;
}

/** Options for {@linkcode runFuzz}. */
export interface RunOptions {
  /** Requests in flight at once (writes go one at a time among them). */
  readonly concurrency: number;
  /** A request without an answer after this long is a failure (a hang). */
  readonly timeoutMs: number;
  /** Prints up to 20 requests answered with this code or status. */
  readonly show?: string | null;
}

/** The result of a run. */
export interface RunResult {
  /** Up to 25 failures, each with its index, reason and a curl line. */
  readonly failures: readonly string[];
  readonly seconds: number;
  /** One line: count, time, req/s, statuses and codes. */
  readonly summary: string;
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends every request through `send` and judges every answer. */
export async function runFuzz(
  requests: readonly FuzzRequest[],
  send: (r: FuzzRequest) => Promise<Outcome>,
  opts: RunOptions,
): Promise<RunResult> {
  // a tiny mutex: rolled-back writes to the same rows cannot deadlock
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn);
    tail = next.catch(() => {});
    return next;
  };
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const codes = new Map<string, number>();
  let next = 0;
  let shown = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      const req = requests[i];
      if (req === undefined) return;
      const isWrite = !["GET", "HEAD", "OPTIONS"].includes(req.method);
      let why: string | null;
      let detail = "";
      try {
        const once = () => withTimeout(send(req), opts.timeoutMs);
        const out = isWrite ? await serial(once) : await once();
        statuses.set(out.status, (statuses.get(out.status) ?? 0) + 1);
        const code = /"code":"([^"]*)"/.exec(out.body)?.[1];
        if (code !== undefined) codes.set(code, (codes.get(code) ?? 0) + 1);
        why = violation(req, out.status, out.contentType, out.body);
        const show = opts.show ?? null;
        if (
          show !== null && shown < 20 && (code ?? String(out.status)) === show
        ) {
          shown++;
          // deno-lint-ignore no-console
          console.log(`#${i} ${describe(req)}\n  -> ${out.body.slice(0, 300)}`);
        }
        detail = out.body.slice(0, 400);
      } catch (e) {
        why = `threw: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (why !== null && failures.length < 25) {
        failures.push(
          `#${i} ${why}\n  ${describe(req).slice(0, 2000)}\n  -> ${detail}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const n = requests.length;
  const summary = `${n} requests in ${seconds.toFixed(1)} s (${
    (n / seconds).toFixed(0)
  } req/s); statuses ${
    JSON.stringify(Object.fromEntries([...statuses].sort()))
  }; codes ${JSON.stringify(Object.fromEntries([...codes].sort()))}`;
  return { failures, seconds, summary };
}
