/**
 * pgrest's entry point: loads the configuration, opens the pool, loads the
 * schema cache (retrying with backoff while the database is unreachable,
 * answering 503 meanwhile), serves HTTP and shuts down cleanly on SIGTERM
 * or SIGINT.
 *
 * @module
 */

import { makeHandler, startApp } from "./src/server.ts";
import {
  cliAction,
  ConfigError,
  loadConfig,
  usage,
} from "./src/config/config.ts";
import { log } from "./src/log.ts";

export const VERSION = "0.1.0";

async function main(args: readonly string[]): Promise<number> {
  let action;
  try {
    action = cliAction(args);
  } catch (e) {
    if (e instanceof ConfigError) {
      log("crit", `pgrest: ${e.message}`);
      return 1;
    }
    throw e;
  }
  if (action === "help") {
    await Deno.stdout.write(new TextEncoder().encode(usage() + "\n"));
    return 0;
  }
  if (action === "version") {
    await Deno.stdout.write(new TextEncoder().encode(`pgrest ${VERSION}\n`));
    return 0;
  }
  let loaded;
  try {
    loaded = loadConfig(args);
  } catch (e) {
    if (e instanceof ConfigError) {
      log("crit", `pgrest: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const { config, warnings } = loaded;
  for (const w of warnings) log("warn", w, config.logLevel, true);
  let app;
  try {
    app = await startApp(config);
  } catch (e) {
    log("crit", `pgrest: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const server = Deno.serve({
    hostname: app.hostname,
    port: config.serverPort,
    onListen: ({ hostname, port }) =>
      log("info", `pgrest listening on ${hostname}:${port}`, config.logLevel),
  }, makeHandler(app.state));
  const stop = async () => {
    await server.shutdown();
    await app.close();
  };
  const signals = ["SIGTERM", "SIGINT"] as const;
  const stopped = new Promise<void>((resolve) => {
    for (const s of signals) {
      Deno.addSignalListener(s, () => {
        stop().finally(resolve);
      });
    }
  });
  await Promise.race([server.finished, stopped]);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
