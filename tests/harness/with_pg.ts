/**
 * Owns {@linkcode startTestCluster}: a throwaway PostgreSQL 15 cluster loaded
 * with `tests/fixtures/*.sql`, as PostgREST's `withTmpDb`
 * (`nix/tools/withTools.nix`) does.
 *
 * - `initdb --no-locale --encoding=UTF8 --nosync -U postgres --auth=trust`
 *   into a fresh temp dir; when running as root, initdb and the server run as
 *   the `postgres` OS user (initdb refuses root).
 * - The server listens on 127.0.0.1 on a free port and on a unix socket in
 *   the temp dir; fsync off, TimeZone UTC.
 * - Creates the LOGIN NOINHERIT role `pgrest_authenticator` and the database
 *   `pgrest_test`, then loads the fixtures with `psql -v ON_ERROR_STOP=1` as
 *   the superuser, in the order roles, schema, jwt, privileges, data (files
 *   that do not exist are skipped; other `*.sql` files follow, sorted).
 *
 * If `PGRST_TEST_DB_URI` is set, nothing is started: that URI is returned
 * (with `PGRST_TEST_DB_SUPER_URI` as `superUri`) and `stop()` does nothing.
 *
 * A private cluster (`fresh: true`, or no `PGRST_TEST_DB_URI`) can also be
 * taken down and brought back on the same port, keeping its data, for tests
 * of database outages: `stopServer()`, `startServer()`, `restart()`.
 *
 * Needs `--allow-run --allow-read --allow-write --allow-env --allow-sys`
 * (tests run with `--allow-all`).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { freePort } from "./free_port.ts";

/** The authenticator role the fixtures grant `web_anon` and `web_user` to. */
export const AUTHENTICATOR_ROLE = "pgrest_authenticator";
/** The database the fixtures are loaded into. */
export const TEST_DATABASE = "pgrest_test";

/** A running database for tests. */
export interface TestCluster {
  /** `postgresql://pgrest_authenticator@127.0.0.1:PORT/pgrest_test`. */
  readonly uri: string;
  /** The same database as the `postgres` superuser. */
  readonly superUri: string;
  /**
   * Directory of the server's unix socket (`.s.PGSQL.<port>` inside it), or
   * null when the database came from `PGRST_TEST_DB_URI`.
   */
  readonly socketDir: string | null;
  /** Stops the cluster and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** The PostgreSQL server's TCP port, or null for `PGRST_TEST_DB_URI`. */
  readonly port: number | null;
  /**
   * Stops the PostgreSQL server (`pg_ctl stop -m fast`: open sessions are
   * terminated) but keeps the cluster's data, so that `startServer()` can
   * bring it back. Does nothing when it is already stopped.
   *
   * @throws Error for a database from `PGRST_TEST_DB_URI` (use `fresh: true`)
   */
  stopServer(): Promise<void>;
  /**
   * Starts the stopped PostgreSQL server again on the same port and resolves
   * once it accepts connections. Does nothing when it is running.
   *
   * @throws Error for a database from `PGRST_TEST_DB_URI` (use `fresh: true`)
   */
  startServer(): Promise<void>;
  /** `stopServer()`, then `startServer()`. */
  restart(): Promise<void>;
}

/** Options for {@linkcode startTestCluster}. */
export interface StartTestClusterOptions {
  /**
   * Start a private cluster even if `PGRST_TEST_DB_URI` is set, e.g. for a
   * test that stops or restarts the database.
   */
  readonly fresh?: boolean;
}

const PGBIN = Deno.env.get("PGBIN") ?? "/usr/lib/postgresql/15/bin";
const FIXTURES_DIR = fileURLToPath(new URL("../fixtures/", import.meta.url));
const FIXTURE_ORDER = [
  "roles.sql",
  "schema.sql",
  "jwt.sql",
  "privileges.sql",
  "data.sql",
];
/** sockaddr_un.sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const START_ATTEMPTS = 3;

/**
 * Starts a temporary PostgreSQL cluster with the fixtures loaded, or returns
 * the database named by `PGRST_TEST_DB_URI`.
 *
 * @throws Error when a PostgreSQL command fails; the message carries its output
 */
export async function startTestCluster(
  options: StartTestClusterOptions = {},
): Promise<TestCluster> {
  const external = Deno.env.get("PGRST_TEST_DB_URI");
  if (external && !options.fresh) {
    const shared = () =>
      Promise.reject(
        new Error(
          "PGRST_TEST_DB_URI is shared: use startTestCluster({ fresh: true }) " +
            "to stop or start PostgreSQL",
        ),
      );
    return {
      uri: external,
      superUri: Deno.env.get("PGRST_TEST_DB_SUPER_URI") ??
        withUser(external, "postgres"),
      socketDir: null,
      stop: () => Promise.resolve(),
      port: null,
      stopServer: shared,
      startServer: shared,
      restart: shared,
    };
  }

  const asPostgres = Deno.uid() === 0;
  const base = await makeBaseDir(asPostgres);
  const dataDir = `${base}/data`;
  let started = false;
  let removed = false;
  // stop()/stopServer()/startServer() run one at a time
  let queue: Promise<void> = Promise.resolve();
  const serialized = (fn: () => Promise<void>) => () => {
    const next = queue.then(fn);
    queue = next.catch(() => {});
    return next;
  };
  const pgStop = () =>
    run(
      `${PGBIN}/pg_ctl`,
      ["-D", dataDir, "-m", "fast", "-w", "stop"],
      { asPostgres, cwd: base },
    );
  const stop = once(serialized(async () => {
    removed = true;
    if (started) await pgStop().catch(() => {/* already stopped */});
    started = false;
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }));

  try {
    await run(`${PGBIN}/initdb`, [
      "-D",
      dataDir,
      "--no-locale",
      "--encoding=UTF8",
      "--nosync",
      "-U",
      "postgres",
      "--auth=trust",
    ], { asPostgres, cwd: base });
    await Deno.writeTextFile(
      `${dataDir}/postgresql.conf`,
      [
        "",
        "# --- pgrest tests (tests/harness/with_pg.ts) ---",
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${base}'`,
        "fsync = off",
        "synchronous_commit = off",
        "full_page_writes = off",
        "autovacuum = off",
        "timezone = 'UTC'",
        "log_timezone = 'UTC'",
        "max_connections = 200",
        "",
      ].join("\n"),
      { append: true },
    );

    const port = await startServer(dataDir, base, asPostgres);
    started = true;

    const gone = () => {
      if (removed) throw new Error("the cluster has been removed by stop()");
    };
    const stopServer = serialized(async () => {
      gone();
      if (!started) return;
      await pgStop();
      started = false;
    });
    const startAgain = serialized(async () => {
      gone();
      if (started) return;
      await pgStart(dataDir, base, asPostgres, port);
      started = true;
    });

    const psql = (db: string, args: string[]) =>
      run(`${PGBIN}/psql`, [
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "postgres",
        "-d",
        db,
        ...args,
      ], { asPostgres: false, cwd: FIXTURES_DIR });

    await psql("postgres", [
      "-c",
      `create role ${AUTHENTICATOR_ROLE} login noinherit`,
      "-c",
      `create database ${TEST_DATABASE}`,
    ]);
    const files = await fixtureFiles();
    await psql(TEST_DATABASE, [
      ...files.flatMap((f) => ["-f", f]),
      "-c",
      "vacuum analyze",
    ]);

    const hostPort = `127.0.0.1:${port}/${TEST_DATABASE}`;
    return {
      uri: `postgresql://${AUTHENTICATOR_ROLE}@${hostPort}`,
      superUri: `postgresql://postgres@${hostPort}`,
      socketDir: base,
      stop,
      port,
      stopServer,
      startServer: startAgain,
      restart: async () => {
        await stopServer();
        await startAgain();
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Starts the server on a free port, retrying if another process took it. */
async function startServer(
  dataDir: string,
  base: string,
  asPostgres: boolean,
): Promise<number> {
  for (let attempt = 1;; attempt++) {
    const port = freePort();
    const socketPath = `${base}/.s.PGSQL.${port}`;
    if (new TextEncoder().encode(socketPath).length > MAX_SOCKET_PATH) {
      throw new Error(`Unix socket path is too long: ${socketPath}`);
    }
    try {
      await pgStart(dataDir, base, asPostgres, port);
      return port;
    } catch (e) {
      if (attempt >= START_ATTEMPTS) throw e;
    }
  }
}

/**
 * `pg_ctl start` on `port`, waiting until it accepts connections.
 *
 * @throws Error with the tail of postgres.log when it does not start
 */
async function pgStart(
  dataDir: string,
  base: string,
  asPostgres: boolean,
  port: number,
): Promise<void> {
  try {
    await run(`${PGBIN}/pg_ctl`, [
      "-D",
      dataDir,
      "-l",
      `${base}/postgres.log`,
      "-o",
      `-p ${port}`,
      "-w",
      "-t",
      "60",
      "start",
    ], { asPostgres, cwd: base });
  } catch (e) {
    const log = await Deno.readTextFile(`${base}/postgres.log`).catch(
      () => "",
    );
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${msg}\npostgres.log:\n${tail(log, 20)}`);
  }
}

/** The fixture files in load order. */
async function fixtureFiles(): Promise<string[]> {
  const present: string[] = [];
  for await (const entry of Deno.readDir(FIXTURES_DIR)) {
    if (entry.isFile && entry.name.endsWith(".sql")) present.push(entry.name);
  }
  const known = FIXTURE_ORDER.filter((f) => present.includes(f));
  const others = present.filter((f) => !FIXTURE_ORDER.includes(f)).sort();
  return [...known, ...others].map((f) => `${FIXTURES_DIR}${f}`);
}

/**
 * Creates the cluster's directory. As root it goes under /tmp (the postgres
 * user must be able to reach it) and is handed to postgres.
 */
async function makeBaseDir(asPostgres: boolean): Promise<string> {
  const options: Deno.MakeTempOptions = { prefix: "pgrest-pg-" };
  const tmp = Deno.env.get("TMPDIR");
  // Keep the socket path short: fall back to /tmp if TMPDIR is long.
  if (asPostgres || (tmp !== undefined && tmp.length > 60)) {
    options.dir = "/tmp";
  }
  const base = await Deno.makeTempDir(options);
  if (asPostgres) {
    const uid = Number(await run("id", ["-u", "postgres"], {}));
    const gid = Number(await run("id", ["-g", "postgres"], {}));
    await Deno.chown(base, uid, gid);
  }
  return base;
}

interface RunOptions {
  /** Run as the `postgres` OS user (through runuser). */
  readonly asPostgres?: boolean;
  readonly cwd?: string;
}

/**
 * Runs a command with `PG*` variables removed and TZ=UTC; returns its trimmed
 * stdout.
 *
 * @throws Error with the command's output when it exits non-zero
 */
async function run(
  cmd: string,
  args: string[],
  options: RunOptions,
): Promise<string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("PG")) env[k] = v;
  }
  env.TZ = "UTC";
  env.PGOPTIONS = "-c client_min_messages=warning";
  let argv = [cmd, ...args];
  if (options.asPostgres) {
    // runuser resets part of the environment; env(1) sets what we need.
    argv = ["runuser", "-u", "postgres", "--", "env", "TZ=UTC", ...argv];
  }
  const [program, ...rest] = argv as [string, ...string[]];
  const out = await new Deno.Command(program, {
    args: rest,
    env,
    clearEnv: true,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(out.stdout);
  if (!out.success) {
    const stderr = decoder.decode(out.stderr);
    throw new Error(
      `Command failed (exit ${out.code}): ${argv.join(" ")}\n${
        tail(stdout + stderr, 30)
      }`,
    );
  }
  return stdout.trim();
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Replaces the user (and drops the password) of a connection URI. */
function withUser(uri: string, user: string): string {
  const url = new URL(uri);
  url.username = user;
  url.password = "";
  return url.toString();
}

/** Wraps an async function so that it runs at most once. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  return () => (done ??= fn());
}
