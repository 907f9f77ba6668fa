/**
 * The server side of tests/security/sqlmap.sh: starts a private PostgreSQL
 * cluster (tests/harness/with_pg.ts, fixtures included), loads
 * tests/security/sqlmap_fixture.sql, and starts `main.ts` on it
 * (tests/harness/server.ts) with `db-schemas = sqlmap` and
 * `db-anon-role = web_anon`.
 *
 * Protocol: prints `READY <url>` on stdout once pgrest answers. On SIGTERM
 * or SIGINT it prints what the database saw, then stops pgrest and the
 * cluster and exits:
 *
 * - `SECRETS_ROWS <n>`: the rows of `sqlmap.secrets`, still 2;
 * - `PGRST_STATUS <status> <count>` lines: pgrest's answers by status
 *   (from the admin server's metrics), to show what the attack got.
 *
 * Run with `deno run -A tests/security/sqlmap_server.ts`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { freePort } from "../harness/free_port.ts";
import { startServer } from "../harness/server.ts";
import { startTestCluster } from "../harness/with_pg.ts";

const FIXTURE = fileURLToPath(
  new URL("./sqlmap_fixture.sql", import.meta.url),
);

function say(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));
}

async function main(): Promise<void> {
  const cluster = await startTestCluster({ fresh: true });
  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  const sql = postgres(cluster.superUri, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(await Deno.readTextFile(FIXTURE));
    const secret = crypto.randomUUID() + crypto.randomUUID();
    const adminPort = freePort();
    server = await startServer({
      env: {
        PGRST_DB_URI: cluster.uri,
        PGRST_DB_SCHEMAS: "sqlmap",
        PGRST_DB_ANON_ROLE: "web_anon",
        PGRST_JWT_SECRET: secret,
        PGRST_DB_POOL: "4",
        PGRST_LOG_LEVEL: "crit",
        PGRST_ADMIN_SERVER_PORT: String(adminPort),
      },
    });
    say(`READY ${server.url}`);

    await new Promise<void>((resolve) => {
      Deno.addSignalListener("SIGTERM", () => resolve());
      Deno.addSignalListener("SIGINT", () => resolve());
    });

    const metrics = await fetch(`http://127.0.0.1:${adminPort}/metrics`)
      .then((r) => r.text())
      .catch(() => "");
    for (const line of metrics.split("\n")) {
      const m = /^pgrst_requests_total\{status="(\d+)"\} (\d+)/.exec(
        line,
      );
      if (m !== null) say(`PGRST_STATUS ${m[1]} ${m[2]}`);
    }
    const [count] = await sql<{ rows: string }[]>`
      select count(*) as rows from sqlmap.secrets`;
    say(`SECRETS_ROWS ${count?.rows ?? "?"}`);
  } finally {
    await server?.stop();
    await sql.end();
    await cluster.stop();
  }
}

await main();
Deno.exit(0);
