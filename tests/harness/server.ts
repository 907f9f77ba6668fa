/**
 * Owns {@linkcode startServer}: spawns `deno run -A main.ts` as a child
 * process on a free port, with PostgREST-style `PGRST_*` variables, and waits
 * until it answers HTTP. For process tests (shutdown, reload, connection
 * loss); request-level tests call the handler in-process instead.
 *
 * The child gets the parent's environment without its `PGRST_*` variables
 * (so a config comes only from `env`), plus `PGRST_SERVER_HOST=127.0.0.1`,
 * `PGRST_SERVER_PORT=<free port>` and `PGRST_DB_URI=$PGRST_TEST_DB_URI`,
 * each of which `env` may override.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { freePort } from "./free_port.ts";

/** Config for the fixtures in tests/fixtures/: spread it into `env`. */
export const FIXTURE_ENV: Readonly<Record<string, string>> = {
  PGRST_DB_SCHEMAS: "api,api2",
  PGRST_DB_ANON_ROLE: "web_anon",
};

/** Options for {@linkcode startServer}. */
export interface StartServerOptions {
  /** Extra environment, e.g. `{ PGRST_DB_ANON_ROLE: "web_anon" }`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Arguments after `main.ts`, e.g. a config file path. */
  readonly args?: readonly string[];
  /** How long to wait for the first accepted answer (default 20 s). */
  readonly timeoutMs?: number;
  /**
   * Which answer to `GET /` counts as ready (default: any status but 503,
   * which PostgREST sends while its schema cache is loading).
   */
  readonly ready?: (status: number) => boolean;
  /** `https` for a server with `PGRST_SERVER_TLS_*` (default `http`). */
  readonly scheme?: "http" | "https";
  /**
   * The client for the readiness probe: one with `caCerts` for HTTPS, or
   * with `proxy: { transport: "unix", path }` for `PGRST_SERVER_UNIX_SOCKET`.
   */
  readonly client?: Deno.HttpClient;
}

/** A running server. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` (`https` with `scheme`; no trailing slash). */
  readonly url: string;
  readonly port: number;
  readonly process: Deno.ChildProcess;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  /**
   * Sends `signal` (default SIGTERM), waits for the exit (SIGKILL after
   * `killAfterMs`, default 10 s) and returns the exit status. Safe to call
   * twice.
   */
  stop(signal?: Deno.Signal, killAfterMs?: number): Promise<Deno.CommandStatus>;
  [Symbol.asyncDispose](): Promise<void>;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Starts `deno run -A main.ts` and resolves once it answers HTTP.
 *
 * @throws Error with the server's output when it exits or does not answer in
 * time
 */
export async function startServer(
  options: StartServerOptions = {},
): Promise<TestServer> {
  const port = freePort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("PGRST_") || k.startsWith("PGRST_TEST_")) env[k] = v;
  }
  env.PGRST_SERVER_HOST = "127.0.0.1";
  env.PGRST_SERVER_PORT = String(port);
  const testUri = Deno.env.get("PGRST_TEST_DB_URI");
  if (testUri !== undefined) env.PGRST_DB_URI = testUri;
  Object.assign(env, options.env);

  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...(options.args ?? [])],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const chunks: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      chunks.push(text);
    }
  };
  const drained = Promise.all([
    collect(process.stdout),
    collect(process.stderr),
  ]);
  // An object, so that TypeScript does not narrow it to null in the loop.
  const state: { exited: Deno.CommandStatus | null } = { exited: null };
  const status = process.status.then((s) => (state.exited = s));
  const output = () => chunks.join("");

  let stopping: Promise<Deno.CommandStatus> | null = null;
  const stop = (signal: Deno.Signal = "SIGTERM", killAfterMs = 10_000) =>
    stopping ??= (async () => {
      if (state.exited === null) {
        try {
          process.kill(signal);
        } catch { /* exited meanwhile */ }
        const timer = setTimeout(() => {
          try {
            process.kill("SIGKILL");
          } catch { /* exited meanwhile */ }
        }, killAfterMs);
        await status;
        clearTimeout(timer);
      }
      await drained;
      return await status;
    })();

  const url = `${options.scheme ?? "http"}://127.0.0.1:${port}`;
  const ready = options.ready ?? ((s: number) => s !== 503);
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let last = "no answer";
  while (true) {
    if (state.exited !== null) {
      await drained;
      throw new Error(
        `Server exited (code ${state.exited.code}) before answering:\n${output()}`,
      );
    }
    if (Date.now() > deadline) {
      await stop("SIGKILL");
      throw new Error(
        `Server did not answer within the timeout (${last}):\n${output()}`,
      );
    }
    try {
      const res = await fetch(`${url}/`, {
        signal: AbortSignal.timeout(2_000),
        ...(options.client === undefined ? {} : { client: options.client }),
      });
      await res.body?.cancel();
      if (ready(res.status)) break;
      last = `status ${res.status}`;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    port,
    process,
    output,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}
