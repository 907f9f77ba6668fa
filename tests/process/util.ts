/**
 * Owns the helpers shared by the process tests in tests/process/: the test
 * database URIs, scratch databases in the shared cluster (so that DDL,
 * `NOTIFY` and role settings stay private to one test), bounded requests
 * and polling.
 *
 * @module
 */

import postgres from "postgres";
import { AUTHENTICATOR_ROLE } from "../harness/with_pg.ts";

/** The shared test database (set by `deno task test`). */
export const uri: string | undefined = Deno.env.get("PGRST_TEST_DB_URI");
/** The same database as the superuser. */
export const superUri: string | undefined =
  Deno.env.get("PGRST_TEST_DB_SUPER_URI") ??
    (uri === undefined ? undefined : withDatabase(uri, null, "postgres"));

/** `base` with another database (and, if given, user without password). */
export function withDatabase(
  base: string,
  db: string | null,
  user?: string,
): string {
  const url = new URL(base);
  if (db !== null) url.pathname = `/${db}`;
  if (user !== undefined) {
    url.username = user;
    url.password = "";
  }
  return url.toString();
}

/** The role pgrest logs in as in `dbUri`. */
export function authenticatorOf(dbUri: string): string {
  return decodeURIComponent(new URL(dbUri).username) || AUTHENTICATOR_ROLE;
}

/** A lower-case name that no other test uses. */
export function uniqueName(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return `${prefix}_${
    [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** A postgres.js client that ignores notices. */
export function connect(dbUri: string, max = 1): postgres.Sql {
  return postgres(dbUri, { max, onnotice: () => {} });
}

/** A database of its own in the shared cluster. */
export interface ScratchDb extends AsyncDisposable {
  readonly name: string;
  /** The URI pgrest connects with (the authenticator). */
  readonly uri: string;
  /** A superuser connection to it. */
  readonly sql: postgres.Sql;
}

/**
 * Creates a database in the shared cluster and runs `setup` (several
 * statements) in it as the superuser. Dispose drops it, and with it the
 * `ALTER ROLE … IN DATABASE` settings made for it.
 */
export async function scratchDb(
  prefix: string,
  setup: string,
): Promise<ScratchDb> {
  const name = uniqueName(prefix);
  const admin = connect(withDatabase(superUri!, "postgres"));
  let sql: postgres.Sql | null = null;
  const dispose = async () => {
    await sql?.end({ timeout: 5 });
    await admin.unsafe(`drop database if exists ${name} with (force)`)
      .catch(() => {});
    await admin.end({ timeout: 5 });
  };
  try {
    await admin.unsafe(`create database ${name}`);
    sql = connect(withDatabase(superUri!, name), 2);
    await sql.unsafe(setup).simple();
  } catch (e) {
    await dispose();
    throw e;
  }
  return {
    name,
    uri: withDatabase(uri!, name),
    sql,
    [Symbol.asyncDispose]: dispose,
  };
}

/**
 * A schema `api` readable by web_anon with `api.seed` (ids 1-5) and
 * `api.slow(seconds)`, which sleeps and returns `'slept'`: setup for
 * {@linkcode scratchDb}.
 */
export const SLOW_SETUP = `
  create schema api;
  grant usage on schema api to web_anon;
  create table api.seed (id int primary key);
  insert into api.seed select generate_series(1, 5);
  grant select on api.seed to web_anon;
  create function api.slow(seconds float8) returns text
    language sql volatile
    as $$ select pg_sleep(seconds); select 'slept'::text $$;
  grant execute on function api.slow(float8) to web_anon;
`;

/** The environment for main.ts on a scratch database from SLOW_SETUP. */
export function scratchEnv(db: ScratchDb): Record<string, string> {
  return {
    PGRST_DB_URI: db.uri,
    PGRST_DB_SCHEMAS: "api",
    PGRST_DB_ANON_ROLE: "web_anon",
  };
}

/** An answer, read completely, with its timing. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** When the request was sent and when its body was read (ms, monotonic). */
  readonly start: number;
  readonly end: number;
}

/** The answer's body as JSON. */
export function json<T = unknown>(a: Answer): T {
  return JSON.parse(a.text) as T;
}

/** The `code` of a PostgREST error body, or null. */
export function errorCode(a: Answer): string | null {
  try {
    const code = (JSON.parse(a.text) as { code?: unknown }).code;
    return typeof code === "string" ? code : null;
  } catch {
    return null;
  }
}

/** Sends one request (aborted after `timeoutMs`) and reads the whole body. */
export async function request(
  url: string,
  init: RequestInit & { client?: Deno.HttpClient } = {},
  timeoutMs = 10_000,
): Promise<Answer> {
  const start = performance.now();
  const res = await fetch(url, {
    ...init,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    start,
    end: performance.now(),
  };
}

/**
 * {@linkcode request}, but a failure to get an answer (refused, reset,
 * timed out) is an answer with status 0 and the error as its text.
 */
export async function tryRequest(
  url: string,
  init: RequestInit & { client?: Deno.HttpClient } = {},
  timeoutMs = 10_000,
): Promise<Answer> {
  const start = performance.now();
  try {
    return await request(url, init, timeoutMs);
  } catch (e) {
    return {
      status: 0,
      headers: new Headers(),
      text: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
      start,
      end: performance.now(),
    };
  }
}

/** A response read off a raw connection. */
export interface RawResponse {
  /** The status line, e.g. `HTTP/1.1 200 OK`. */
  readonly statusLine: string;
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

/**
 * Writes `head` (a raw HTTP/1.1 request without body) to `conn` and reads
 * one response (Content-Length or chunked), leaving the connection open.
 * Gives up after `timeoutMs`.
 */
export async function rawRequest(
  conn: Deno.Conn,
  head: string,
  timeoutMs = 10_000,
): Promise<RawResponse> {
  const encoder = new TextEncoder();
  await conn.write(encoder.encode(head));
  const deadline = setTimeout(() => conn.close(), timeoutMs);
  try {
    let data = new Uint8Array(0);
    const buf = new Uint8Array(16 * 1024);
    const parsed = (): RawResponse | null => {
      const text = new TextDecoder().decode(data);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return null;
      const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
      const headers = new Map<string, string>();
      for (const line of lines) {
        const i = line.indexOf(":");
        headers.set(
          line.slice(0, i).trim().toLowerCase(),
          line.slice(i + 1).trim(),
        );
      }
      const rest = data.subarray(encoder.encode(text.slice(0, end + 4)).length);
      let body: Uint8Array | null = null;
      const length = headers.get("content-length");
      if (length !== undefined) {
        if (rest.length >= Number(length)) {
          body = rest.subarray(0, Number(length));
        }
      } else if (headers.get("transfer-encoding")?.includes("chunked")) {
        body = dechunk(rest);
      } else body = new Uint8Array(0);
      if (body === null) return null;
      return {
        statusLine,
        status: Number(statusLine.split(" ")[1]),
        headers,
        body: new TextDecoder().decode(body),
      };
    };
    while (true) {
      const r = parsed();
      if (r !== null) return r;
      const n = await conn.read(buf);
      if (n === null) throw new Error("connection closed before a response");
      const next = new Uint8Array(data.length + n);
      next.set(data);
      next.set(buf.subarray(0, n), data.length);
      data = next;
    }
  } finally {
    clearTimeout(deadline);
  }
}

/** A complete chunked body decoded, or null while it is incomplete. */
function dechunk(data: Uint8Array): Uint8Array | null {
  const parts: Uint8Array[] = [];
  let pos = 0;
  while (true) {
    let eol = -1;
    for (let i = pos; i + 1 < data.length; i++) {
      if (data[i] === 13 && data[i + 1] === 10) {
        eol = i;
        break;
      }
    }
    if (eol < 0) return null;
    const size = parseInt(
      new TextDecoder().decode(data.subarray(pos, eol)),
      16,
    );
    const start = eol + 2;
    if (size === 0) break;
    if (data.length < start + size + 2) return null;
    parts.push(data.subarray(start, start + size));
    pos = start + size + 2;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Calls `probe` every `intervalMs` until it returns a value other than
 * undefined and returns that value.
 *
 * @throws Error naming `what` (and the last failure) after `timeoutMs`
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 5_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last = "";
  while (true) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = `: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last}`,
      );
    }
    await sleep(intervalMs);
  }
}

/**
 * Waits until a backend of database `db` sleeps in `pg_sleep` (the slow
 * request has reached PostgreSQL and holds its connection), and then 50 ms
 * more: a request arriving within the first few milliseconds of a batch
 * (`db-pool-pipeline`'s join window, wire_pool.ts `JOIN_MAX_AGE_MS`) would
 * be pipelined behind it instead of waiting for a free connection.
 */
export async function waitForSleeper(
  sql: postgres.Sql,
  db: string,
): Promise<true> {
  await waitFor("a backend in pg_sleep", async () => {
    const [row] = await sql`select count(*)::int as n from pg_stat_activity
      where datname = ${db} and wait_event = 'PgSleep'`;
    return (row?.n as number) > 0 ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 50));
  return true;
}

/**
 * Resolves with `status` once the process exits, or with null after
 * `timeoutMs` (the process is left running).
 */
export async function exitWithin(
  process: Deno.ChildProcess,
  timeoutMs: number,
): Promise<Deno.CommandStatus | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), timeoutMs);
  });
  try {
    return await Promise.race([process.status, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
