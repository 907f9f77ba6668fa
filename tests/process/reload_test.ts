/**
 * Process tests for reloads (issue "Operations"), against main.ts spawned on
 * a scratch database of the shared cluster, so that its DDL, `NOTIFY pgrst`
 * and `ALTER ROLE … IN DATABASE` settings reach no other test's server:
 *
 * - a table created after start-up is 404 PGRST205 until the schema cache is
 *   reloaded, by SIGUSR1, `NOTIFY pgrst, 'reload schema'` or a `NOTIFY pgrst`
 *   with an empty payload; then it is 200;
 * - with db-config on, `pgrst.db_max_rows` set on the authenticator role
 *   takes effect on `NOTIFY pgrst, 'reload config'` and on SIGUSR2, and not
 *   before.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { startServer, type TestServer } from "../harness/server.ts";
import {
  authenticatorOf,
  errorCode,
  json,
  request,
  type ScratchDb,
  scratchDb,
  uniqueName,
  uri,
  waitFor,
} from "./util.ts";

const SETUP = `
  create schema api;
  grant usage on schema api to web_anon;
  create table api.seed (id int primary key);
  insert into api.seed select generate_series(1, 5);
  grant select on api.seed to web_anon;
`;

/** Creates `api.<name>` readable by web_anon, after pgrest has started. */
async function createTable(db: ScratchDb, name: string): Promise<void> {
  await db.sql.unsafe(
    `create table api.${name} (id int primary key);
     insert into api.${name} values (1);
     grant select on api.${name} to web_anon;`,
  ).simple();
}

/** The table is unknown to pgrest: 404 PGRST205. */
async function assertUnknown(server: TestServer, name: string): Promise<void> {
  const a = await request(`${server.url}/${name}`);
  assert.equal(a.status, 404, a.text);
  assert.equal(errorCode(a), "PGRST205");
}

/** Polls until the table answers 200 with its row. */
async function waitForTable(server: TestServer, name: string): Promise<void> {
  const rows = await waitFor(`GET /${name} to answer 200`, async () => {
    const a = await request(`${server.url}/${name}`);
    return a.status === 200 ? json(a) : undefined;
  });
  assert.deepEqual(rows, [{ id: 1 }]);
}

/** How many rows `GET /seed` returns. */
async function seedRows(server: TestServer): Promise<number> {
  const a = await request(`${server.url}/seed`);
  assert.equal(a.status, 200, a.text);
  return json<unknown[]>(a).length;
}

/** Waits until pgrest LISTENs on `channel` (its listener is connected). */
function waitForListener(db: ScratchDb, channel: string): Promise<true> {
  return waitFor(`pgrest to LISTEN on ${channel}`, async () => {
    const [row] = await db.sql`select count(*)::int as n
      from pg_stat_activity
      where datname = ${db.name} and query ilike ${`listen%${channel}%`}`;
    return (row?.n as number) > 0 ? true : undefined;
  });
}

Deno.test({
  name: "reloads: SIGUSR1, NOTIFY and SIGUSR2 reload the schema cache and " +
    "the configuration",
  ignore: uri === undefined,
  async fn(t) {
    await using db = await scratchDb("ops_reload", SETUP);
    const authenticator = authenticatorOf(db.uri);
    await using server = await startServer({
      env: {
        PGRST_DB_URI: db.uri,
        PGRST_DB_SCHEMAS: "api",
        PGRST_DB_ANON_ROLE: "web_anon",
        PGRST_DB_CONFIG: "true",
        PGRST_DB_CHANNEL_ENABLED: "true",
      },
    });
    await waitForListener(db, "pgrst");

    await t.step("SIGUSR1 picks up a new table", async () => {
      const name = uniqueName("usr1");
      await createTable(db, name);
      await assertUnknown(server, name);
      server.process.kill("SIGUSR1");
      await waitForTable(server, name);
    });

    await t.step(
      "NOTIFY pgrst, 'reload schema' picks up a new table",
      async () => {
        const name = uniqueName("notify");
        await createTable(db, name);
        await assertUnknown(server, name);
        await db.sql`select pg_notify('pgrst', 'reload schema')`;
        await waitForTable(server, name);
      },
    );

    await t.step("NOTIFY pgrst with an empty payload reloads too", async () => {
      const name = uniqueName("empty");
      await createTable(db, name);
      await assertUnknown(server, name);
      await db.sql.unsafe("notify pgrst");
      await waitForTable(server, name);
    });

    await t.step(
      "NOTIFY pgrst, 'reload config' applies pgrst.db_max_rows",
      async () => {
        assert.equal(await seedRows(server), 5);
        await db.sql.unsafe(
          `alter role ${authenticator} in database ${db.name}
           set pgrst.db_max_rows = '2'`,
        );
        // not before the reload
        assert.equal(await seedRows(server), 5);
        await db.sql`select pg_notify('pgrst', 'reload config')`;
        await waitFor(
          "db-max-rows 2",
          async () => (await seedRows(server)) === 2 ? true : undefined,
        );
      },
    );

    await t.step("SIGUSR2 applies a changed pgrst.db_max_rows", async () => {
      await db.sql.unsafe(
        `alter role ${authenticator} in database ${db.name}
         set pgrst.db_max_rows = '3'`,
      );
      assert.equal(await seedRows(server), 2);
      server.process.kill("SIGUSR2");
      await waitFor(
        "db-max-rows 3",
        async () => (await seedRows(server)) === 3 ? true : undefined,
      );
    });

    await t.step("the server is still healthy", async () => {
      const a = await request(`${server.url}/seed?id=eq.1`);
      assert.equal(a.status, 200, a.text);
      assert.deepEqual(json(a), [{ id: 1 }]);
    });
  },
});

Deno.test({
  name: "db-pre-config: the function's set_config of pgrst.* settings " +
    "configures pgrest, below the role's own pgrst.* settings",
  ignore: uri === undefined,
  async fn() {
    await using db = await scratchDb("ops_pre_config", SETUP);
    const authenticator = authenticatorOf(db.uri);
    await db.sql.unsafe(`
      create function public.pre_config() returns void language sql as $$
        select set_config('pgrst.db_max_rows', '4', true),
               set_config('pgrst.server_port', '1', true);
      $$;
      grant execute on function public.pre_config() to ${authenticator};
    `);
    await using server = await startServer({
      env: {
        PGRST_DB_URI: db.uri,
        PGRST_DB_SCHEMAS: "api",
        PGRST_DB_ANON_ROLE: "web_anon",
        PGRST_DB_CONFIG: "true",
        PGRST_DB_PRE_CONFIG: "public.pre_config",
      },
    });
    // read at start-up; the port (not an in-database key) is untouched
    await waitFor(
      "db-max-rows 4 from the function",
      async () => (await seedRows(server)) === 4 ? true : undefined,
    );
    // a role setting of the same key wins
    await db.sql.unsafe(
      `alter role ${authenticator} in database ${db.name}
       set pgrst.db_max_rows = '3'`,
    );
    server.process.kill("SIGUSR2");
    await waitFor(
      "db-max-rows 3 from the role",
      async () => (await seedRows(server)) === 3 ? true : undefined,
    );
  },
});

Deno.test({
  name: "--dump-config with db-config shows the in-database settings too, " +
    "as PostgREST",
  ignore: uri === undefined,
  async fn() {
    await using db = await scratchDb("ops_dump_config", SETUP);
    const authenticator = authenticatorOf(db.uri);
    await db.sql.unsafe(
      `alter role ${authenticator} in database ${db.name}
       set pgrst.db_max_rows = '7'`,
    );
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(Deno.env.toObject())) {
      if (!k.startsWith("PGRST_")) env[k] = v;
    }
    Object.assign(env, {
      PGRST_DB_URI: db.uri,
      PGRST_DB_ANON_ROLE: "web_anon",
      PGRST_DB_MAX_ROWS: "100",
    });
    const dump = async (extra: Record<string, string>) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts", "--dump-config"],
        cwd: new URL("../../", import.meta.url),
        env: { ...env, ...extra },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout);
    };
    assert.match(await dump({}), /^db-max-rows = "7"$/m);
    assert.match(
      await dump({ PGRST_DB_CONFIG: "false" }),
      /^db-max-rows = "100"$/m,
    );
  },
});
