/**
 * Process tests for configuration: `deno run -A main.ts` started with a
 * database URI and flags on the command line serves requests; an invalid
 * `PGRST_DB_POOL` exits non-zero with one line naming `db-pool`; a short
 * `jwt-secret` prints a WARNING but starts; `--help` prints the usage.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`) except for `--help`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { freePort } from "../harness/free_port.ts";
import { FIXTURE_ENV, startServer } from "../harness/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Where nothing listens: a config that falls back to it cannot serve. */
const DEAD_URI = "postgresql://nobody@127.0.0.1:1/nowhere";

/** The parent's environment without `PGRST_*` (but with `PGRST_TEST_*`). */
function baseEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("PGRST_") || k.startsWith("PGRST_TEST_")) env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs main.ts to completion (killed after `timeoutMs`). */
async function runMain(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: ROOT,
    env: baseEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Polls `url` until it answers `status`, or throws after `timeoutMs`. */
async function waitFor(
  url: string,
  status: number,
  timeoutMs = 20_000,
): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.status === status) return res;
      last = `status ${res.status}: ${await res.text()}`;
    } catch (e: unknown) {
      last = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer ${status} in time (${last})`);
}

Deno.test({
  name:
    "main.ts serves with the URI, --anonymous and --schema given on the command line",
  ignore: uri === undefined,
  async fn() {
    // The environment names a dead database and no anonymous role: only the
    // command line can make this server answer.
    await using server = await startServer({
      args: [uri!, "--anonymous", "web_anon", "--schema", "api,api2"],
      env: { PGRST_DB_URI: DEAD_URI },
    });
    const items = await fetch(`${server.url}/items?select=id&order=id&limit=2`);
    assert.equal(items.status, 200);
    assert.deepEqual(await items.json(), [{ id: 1 }, { id: 2 }]);
    const things = await fetch(`${server.url}/things?select=id&order=id`, {
      headers: { "Accept-Profile": "api2" },
    });
    assert.equal(things.status, 200);
    assert.deepEqual(await things.json(), [{ id: 1 }, { id: 2 }, { id: 3 }]);
    const status = await server.stop();
    assert.equal(status.code, 0, server.output());
  },
});

Deno.test({
  name: "main.ts listens on the port given with --port",
  ignore: uri === undefined,
  async fn() {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "main.ts",
        uri!,
        "-a",
        "web_anon",
        "-s",
        "api",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
      ],
      cwd: ROOT,
      env: baseEnv({}),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const res = await waitFor(
        `http://127.0.0.1:${port}/items?id=eq.3&select=name`,
        200,
      );
      assert.deepEqual(await res.json(), [{ name: "notebook" }]);
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
  },
});

Deno.test({
  name:
    "main.ts exits non-zero with one line naming db-pool for PGRST_DB_POOL=abc",
  ignore: uri === undefined,
  async fn() {
    const { code, stdout, stderr } = await runMain([], {
      ...FIXTURE_ENV,
      PGRST_DB_URI: uri!,
      PGRST_DB_POOL: "abc",
    });
    assert.notEqual(code, 0);
    assert.equal(stdout, "");
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0] ?? "", /db-pool/);
    assert.match(lines[0] ?? "", /abc/);
  },
});

Deno.test({
  name: "main.ts exits non-zero naming db-pool for --pool abc",
  ignore: uri === undefined,
  async fn() {
    const { code, stderr } = await runMain([uri!, "--pool", "abc"], {
      ...FIXTURE_ENV,
    });
    assert.notEqual(code, 0);
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0] ?? "", /db-pool/);
  },
});

Deno.test({
  name: "main.ts exits non-zero on an unknown option",
  async fn() {
    const { code, stdout, stderr } = await runMain(["--no-such-flag"], {});
    assert.notEqual(code, 0);
    assert.equal(stdout, "");
    assert.match(stderr, /Unknown option "--no-such-flag"/);
  },
});

Deno.test({
  name: "main.ts reports an unknown option in one line, without a stack trace",
  async fn() {
    const { code, stderr } = await runMain(["--no-such-flag"], {});
    assert.notEqual(code, 0);
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    assert.doesNotMatch(stderr, /Uncaught|at main/);
  },
});

Deno.test({
  name:
    "main.ts warns about a jwt-secret shorter than 32 bytes and still serves",
  ignore: uri === undefined,
  async fn() {
    const secret = "too-short-secret";
    const server = await startServer({
      env: { ...FIXTURE_ENV, PGRST_JWT_SECRET: secret },
    });
    let output: string;
    try {
      const res = await fetch(`${server.url}/items?id=eq.1&select=id`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), [{ id: 1 }]);
    } finally {
      await server.stop();
      output = server.output();
    }
    const warning = output.split("\n").find((l) => l.includes("WARNING"));
    assert.ok(warning !== undefined, output);
    assert.match(warning, /jwt-secret/);
    assert.ok(!output.includes(secret), "the secret is not printed");
  },
});

Deno.test({
  name: "main.ts does not warn about a 32-byte jwt-secret",
  ignore: uri === undefined,
  async fn() {
    const server = await startServer({
      env: {
        ...FIXTURE_ENV,
        PGRST_JWT_SECRET: "reallyreallyreallyreallyverysafe",
      },
    });
    await server.stop();
    assert.ok(!server.output().includes("WARNING"), server.output());
  },
});

Deno.test({
  name: "main.ts --help prints the usage with the real flags and exits 0",
  async fn() {
    const { code, stdout } = await runMain(["--help"], {});
    assert.equal(code, 0);
    assert.ok(stdout.startsWith("Usage: pgrest"), stdout);
    for (const flag of ["--anonymous", "--schema", "--port", "--pool"]) {
      assert.ok(stdout.includes(flag), flag);
    }
    assert.match(stdout, /db-pool/);
  },
});
