/**
 * pgrest's entry point: loads the configuration, opens the pool, loads the
 * schema cache (retrying with backoff while the database is unreachable,
 * answering 503 meanwhile), serves HTTP (TCP, unix socket or HTTPS with
 * HTTP/2) and the admin server, reloads on SIGUSR1 (schema cache) and
 * SIGUSR2 (configuration), and shuts down cleanly on SIGTERM or SIGINT:
 * no new connections, in-flight requests finish, the pool closes, exit 0.
 *
 * @module
 */

import { configText, makeAdminHandler, schemaJson } from "./src/admin.ts";
import { EXAMPLE_CONFIG } from "./src/config/example.ts";
import {
  cliAction,
  ConfigError,
  loadConfig,
  usage,
} from "./src/config/config.ts";
import type { Config } from "./src/config/types.ts";
import { log } from "./src/log.ts";
import {
  bindAddress,
  fetchDbSettings,
  fetchDbSettingsOnce,
  keepServing,
  makeHandler,
  serveGuardedIfEnabled,
  startApp,
} from "./src/server.ts";

export const VERSION = "0.1.0";

/** Serves on the unix socket, or TCP (HTTPS with HTTP/2 when TLS is set). */
function serve(
  config: Config,
  hostname: string,
  handler: (req: Request) => Promise<Response>,
): Deno.HttpServer {
  if (config.serverUnixSocket !== null) {
    const path = config.serverUnixSocket;
    const unix = Deno.serve({
      path,
      onListen: () =>
        log("info", `pgrest listening on ${path}`, config.logLevel),
    }, handler);
    Deno.chmodSync(path, parseInt(config.serverUnixSocketMode, 8));
    return unix;
  }
  const tcp = {
    hostname,
    port: config.serverPort,
    reusePort: config.serverReuseport,
    onListen: (addr: Deno.NetAddr) =>
      log(
        "info",
        `pgrest listening on ${addr.hostname}:${addr.port}`,
        config.logLevel,
      ),
  };
  if (config.serverTlsCert !== null && config.serverTlsKey !== null) {
    return Deno.serve({
      ...tcp,
      cert: Deno.readTextFileSync(config.serverTlsCert),
      key: Deno.readTextFileSync(config.serverTlsKey),
    }, handler);
  }
  return Deno.serve(tcp, handler);
}

/** `--ready`: asks the admin server's /ready; 0 when it answers 200. */
async function probeReady(config: Config): Promise<number> {
  if (config.adminServerPort === null) {
    log("crit", "pgrest: --ready needs admin-server-port");
    return 1;
  }
  const host = bindAddress(config.adminServerHost ?? config.serverHost);
  const target = host === "0.0.0.0"
    ? "127.0.0.1"
    : host === "::"
    ? "[::1]"
    : host;
  try {
    const res = await fetch(
      `http://${target}:${config.adminServerPort}/ready`,
      {
        signal: AbortSignal.timeout(5000),
      },
    );
    await res.body?.cancel();
    return res.status === 200 ? 0 : 1;
  } catch {
    return 1;
  }
}

function configError(e: unknown): number {
  if (e instanceof ConfigError) {
    log("crit", `pgrest: ${e.message}`);
    return 1;
  }
  throw e;
}

async function main(args: readonly string[]): Promise<number> {
  let action;
  try {
    action = cliAction(args);
  } catch (e) {
    return configError(e);
  }
  if (action === "help") {
    await Deno.stdout.write(new TextEncoder().encode(usage() + "\n"));
    return 0;
  }
  if (action === "version") {
    await Deno.stdout.write(new TextEncoder().encode(`pgrest ${VERSION}\n`));
    return 0;
  }
  if (action === "example") {
    await Deno.stdout.write(new TextEncoder().encode(EXAMPLE_CONFIG));
    return 0;
  }
  let loaded;
  try {
    loaded = loadConfig(args);
  } catch (e) {
    return configError(e);
  }
  const { config, warnings } = loaded;
  if (action === "dump-config") {
    // as PostgREST: with db-config, the in-database settings too
    let dumped = config;
    if (config.dbConfig) {
      try {
        dumped = loadConfig(args, await fetchDbSettingsOnce(config)).config;
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        log(
          "warn",
          `in-database settings not read: ${
            msg.replaceAll(config.dbUri, "<db-uri>")
          }`,
          config.logLevel,
          true,
        );
      }
    }
    await Deno.stdout.write(new TextEncoder().encode(configText(dumped)));
    return 0;
  }
  if (action === "ready") return await probeReady(config);
  for (const w of warnings) log("warn", w, config.logLevel, true);
  if ((config.serverTlsCert === null) !== (config.serverTlsKey === null)) {
    log("crit", "pgrest: server-tls-cert and server-tls-key go together");
    return 1;
  }
  let app;
  try {
    app = await startApp(config, {
      // reload config: the file and environment again, plus the
      // in-database settings when db-config is on
      loadConfig: async (db) => {
        const base = loadConfig(args).config;
        if (!base.dbConfig) return base;
        return loadConfig(
          args,
          await fetchDbSettings(db, base.dbPreConfig),
        ).config;
      },
    });
    if (config.dbConfig) await app.reloadConfig().catch(() => {});
  } catch (e) {
    // never print the connection string (it may hold a password)
    const msg = e instanceof Error ? e.message : String(e);
    log("crit", `pgrest: ${msg.replaceAll(config.dbUri, "<db-uri>")}`);
    return 1;
  }
  if (action === "dump-schema") {
    const cache = app.state.cache;
    await app.close();
    if (cache === null) {
      log("crit", "pgrest: could not load the schema cache");
      return 1;
    }
    await Deno.stdout.write(new TextEncoder().encode(schemaJson(cache) + "\n"));
    return 0;
  }
  const handler = makeHandler(app.state);
  const unixSocket = config.serverUnixSocket;
  const server = keepServing(
    () =>
      serveGuardedIfEnabled(config, app.hostname, handler) ??
        serve(config, app.hostname, handler),
    {
      logLevel: config.logLevel,
      // the failed listener's socket file would block the new one
      onRestart: () => {
        if (unixSocket === null) return;
        try {
          Deno.removeSync(unixSocket);
        } catch { /* already gone */ }
      },
    },
  );
  let admin: Deno.HttpServer | null = null;
  if (config.adminServerPort !== null) {
    admin = Deno.serve({
      hostname: config.adminServerHost ?? app.hostname,
      port: config.adminServerPort,
      onListen: () => {},
    }, makeAdminHandler(app.state));
  }
  const running = app;
  Deno.addSignalListener(
    "SIGUSR1",
    () => void running.reload().catch(() => {}),
  );
  Deno.addSignalListener(
    "SIGUSR2",
    () => void running.reloadConfig().catch(() => {}),
  );
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      // stop accepting, let in-flight requests finish, then close the pool
      void (async () => {
        await server.shutdown();
        if (admin !== null) await admin.shutdown();
        await running.close();
        resolve();
      })();
    };
    for (const s of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(s, stop);
    }
  });
  await stopped;
  return 0;
}

if (import.meta.main) {
  // a driver error outside any request (a connection that dies mid-write)
  // is logged and survived, never a crash
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    log(
      "error",
      `unhandled: ${
        e.reason instanceof Error ? e.reason.message : "rejection"
      }`,
    );
  });
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    log("error", `unhandled: ${e.message}`);
  });
  Deno.exit(await main(Deno.args));
}
