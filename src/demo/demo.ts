/**
 * Owns the demo's life cycle ({@linkcode runDemo}): starts the embedded
 * database (./database.ts), starts pgrest (`main.ts`) on it as a child
 * process, waits until pgrest answers, prints the banner (./banner.ts) with
 * a freshly signed author JWT, and stops pgrest and the database on SIGINT or
 * SIGTERM, or when pgrest exits by itself.
 *
 * pgrest gets a pool of ONE connection that never idles out (`--pool 1`,
 * `--pool-timeout 0`, `PGRST_DB_POOL_MAX_LIFETIME=0`), because the socket in
 * front of PGlite accepts one connection (see ./database.ts), and
 * `db-channel-enabled=false`: there is no second connection to LISTEN on.
 * Concurrent HTTP requests queue for that connection.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";
import { DEMO_USAGE, DemoArgsError, parseDemoArgs } from "./args.ts";
import { demoBanner } from "./banner.ts";
import { type DemoDatabase, startDemoDatabase } from "./database.ts";
import {
  ANON_ROLE,
  API_SCHEMA,
  AUTHENTICATOR_ROLE,
  AUTHOR_ROLE,
  DEMO_ACCOUNTS,
} from "./schema.ts";

const encoder = new TextEncoder();
const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** How long pgrest may take to answer after it was started. */
const READY_TIMEOUT_MS = 60_000;
/** How long pgrest may take to stop after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 10_000;
/** How long the printed JWT is valid. */
const TOKEN_LIFETIME_S = 24 * 3600;

function say(message: string): void {
  Deno.stderr.writeSync(encoder.encode(`demo: ${message}\n`));
}

function print(text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** A random HS256 secret of 48 URL-safe characters. */
function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(36));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_");
}

/** The parent's environment without `PGRST_*`, plus `extra`. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("PGRST_")) env[k] = v;
  }
  return { ...env, ...extra };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `url` until it answers 200; false if `gaveUp` settles first. */
async function waitForPgrest(
  url: string,
  gaveUp: { done: boolean },
): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "no answer";
  while (!gaveUp.done) {
    if (Date.now() > deadline) {
      throw new Error(
        `pgrest did not answer within ${READY_TIMEOUT_MS / 1000}s (${last})`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = await res.text();
      if (res.status === 200) return true;
      last = `status ${res.status}: ${body.slice(0, 200)}`;
    } catch (e: unknown) {
      last = e instanceof Error ? e.message : String(e);
    }
    await delay(200);
  }
  return false;
}

/** Signs the ready-made JWT for the first sample account. */
async function authorToken(
  secret: string,
  sub: string,
): Promise<{ token: string; expires: Date }> {
  const exp = Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_S;
  const token = await new SignJWT({ role: AUTHOR_ROLE, sub })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(encoder.encode(secret));
  return { token, expires: new Date(exp * 1000) };
}

/** Stops `child` with SIGTERM, then SIGKILL after {@linkcode STOP_TIMEOUT_MS}. */
async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already exited */ }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      resolve();
    }, STOP_TIMEOUT_MS);
  });
  await Promise.race([child.status.then(() => {}), killed]);
  clearTimeout(timer);
  await child.status;
}

/** Runs the demo; resolves to the process exit code. */
export async function runDemo(argv: readonly string[]): Promise<number> {
  let args;
  try {
    args = parseDemoArgs(argv);
  } catch (e) {
    if (e instanceof DemoArgsError) {
      say(e.message);
      say("see --help");
      return 2;
    }
    throw e;
  }
  if (args.help) {
    print(DEMO_USAGE + "\n");
    return 0;
  }

  // A signal at any point ends the demo; everything started is stopped.
  let signalled: Deno.Signal | null = null;
  let wake: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const handlers: [Deno.Signal, () => void][] = (
    ["SIGINT", "SIGTERM"] as const
  ).map((s) => [s, () => {
    signalled ??= s;
    wake();
  }]);
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);

  let database: DemoDatabase | null = null;
  let child: Deno.ChildProcess | null = null;
  try {
    say(
      args.dataDir === null
        ? "starting PGlite in memory"
        : `starting PGlite in ${args.dataDir}`,
    );
    const starting = startDemoDatabase({ dataDir: args.dataDir });
    const first = await Promise.race([starting, stopRequested]);
    if (first === undefined) {
      // stopped while PGlite was starting: let it finish, then close it
      await (await starting.catch(() => null))?.stop();
      return 0;
    }
    database = first;
    say(
      `PGlite ${
        database.loaded ? "loaded the sample schema" : "found the sample schema"
      }; serving it on 127.0.0.1:${database.port}`,
    );

    const port = args.port === 0 ? freePort() : args.port;
    const url = `http://127.0.0.1:${port}`;
    const secret = randomSecret();
    child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN_TS,
        `postgres://${AUTHENTICATOR_ROLE}@127.0.0.1:${database.port}/postgres`,
        "--anonymous",
        ANON_ROLE,
        "--jwt-secret",
        secret,
        "--schema",
        API_SCHEMA,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--pool",
        "1",
        "--pool-timeout",
        "0",
      ],
      cwd: ROOT,
      clearEnv: true,
      env: childEnv({
        PGRST_DB_POOL_MAX_LIFETIME: "0",
        PGRST_DB_CHANNEL_ENABLED: "false",
      }),
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    say(`started pgrest (pid ${child.pid}) on ${url}`);

    const exited = { done: false };
    const childExit = child.status.then((s) => {
      exited.done = true;
      return s;
    });
    void stopRequested.then(() => {
      exited.done = true;
    });
    const ready = await waitForPgrest(`${url}/posts?limit=0`, exited);
    if (ready) {
      const account = DEMO_ACCOUNTS[0]!;
      const { token, expires } = await authorToken(secret, account.sub);
      print(demoBanner({
        url,
        account,
        token,
        tokenExpires: expires,
        dataDir: args.dataDir,
      }));
    }
    const outcome = await Promise.race([
      childExit.then((s) => ({ exit: s })),
      stopRequested.then(() => ({ exit: null })),
    ]);
    if (outcome.exit !== null && signalled === null) {
      say(`pgrest exited by itself (code ${outcome.exit.code}); stopping`);
      return 1;
    }
    return 0;
  } catch (e) {
    say(e instanceof Error ? e.message : String(e));
    return 1;
  } finally {
    if (signalled !== null) say(`${signalled}: stopping`);
    if (child !== null) await stopChild(child);
    await database?.stop().catch((e: unknown) =>
      say(`closing PGlite: ${e instanceof Error ? e.message : String(e)}`)
    );
    for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  }
}
