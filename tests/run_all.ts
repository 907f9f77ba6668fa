/**
 * Owns the `deno task test` entry point: starts a temporary PostgreSQL cluster
 * (tests/harness/with_pg.ts) unless `PGRST_TEST_DB_URI` is already set, runs
 * `deno test --allow-all --parallel src/ tests/ bench/` (bench/: the benchmark's
 * pure unit tests) with `PGRST_TEST_DB_URI` and
 * `PGRST_TEST_DB_SUPER_URI` exported, stops the cluster (also on failure,
 * SIGINT and SIGTERM) and exits with deno test's code.
 *
 * Arguments are passed to deno test; when there are any, they replace the
 * default paths, so give paths too: `deno task test --filter items tests/`.
 *
 * Run with `--allow-all`.
 *
 * @module
 */

import { startTestCluster, type TestCluster } from "./harness/with_pg.ts";

const DEFAULT_PATHS = ["src/", "tests/", "bench/"];
const ROOT = new URL("..", import.meta.url);

function log(message: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`run_all: ${message}\n`));
}

async function main(): Promise<number> {
  let cluster: TestCluster | null = null;
  let starting: Promise<TestCluster> | null = null;
  let child: Deno.ChildProcess | null = null;
  let stopping: Promise<never> | null = null;

  const onSignal = (signal: Deno.Signal, code: number) => () => {
    stopping ??= (async () => {
      log(`${signal}: stopping`);
      try {
        child?.kill(signal);
      } catch { /* already exited */ }
      await child?.status.catch(() => {});
      const started = await starting?.catch(() => null);
      await started?.stop();
      Deno.exit(code);
    })();
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal("SIGINT", 130)],
    ["SIGTERM", onSignal("SIGTERM", 143)],
  ];
  for (const [signal, handler] of handlers) {
    Deno.addSignalListener(signal, handler);
  }

  try {
    const external = Deno.env.get("PGRST_TEST_DB_URI");
    if (external) {
      log("using PGRST_TEST_DB_URI, not starting a cluster");
    } else {
      const t0 = performance.now();
      starting = startTestCluster();
      cluster = await starting;
      log(
        `PostgreSQL cluster ready in ${
          ((performance.now() - t0) / 1000).toFixed(1)
        }s: ${cluster.uri}`,
      );
    }
    const env: Record<string, string> = {};
    if (cluster) {
      env.PGRST_TEST_DB_URI = cluster.uri;
      env.PGRST_TEST_DB_SUPER_URI = cluster.superUri;
    }
    const args = Deno.args.length > 0 ? Deno.args : DEFAULT_PATHS;
    child = new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", "--parallel", ...args],
      cwd: ROOT,
      env,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const status = await child.status;
    if (stopping) await stopping;
    return status.code;
  } finally {
    if (!stopping) {
      for (const [signal, handler] of handlers) {
        Deno.removeSignalListener(signal, handler);
      }
      await cluster?.stop();
    }
  }
}

Deno.exit(await main());
