/**
 * pgrest's own request connections against a real PostgreSQL server set up
 * the ways users run it: SCRAM-SHA-256, MD5 and cleartext passwords, a unix
 * socket, and TLS (`sslmode=require`, and `verify-full` against the CA that
 * signed the server's certificate). A wrong password is a 503 whose message
 * does not carry the password.
 *
 * Starts its own cluster (it edits pg_hba.conf and turns on ssl).
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { DEFAULT_CONFIG } from "../../src/config/types.ts";
import { createDb } from "../../src/db/pool.ts";
import { PgrstError } from "../../src/error.ts";
import { startTestCluster } from "../harness/with_pg.ts";

const DB = "pgrest_test";

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function postgresOwner(): Promise<{ uid: number; gid: number } | null> {
  if (Deno.uid() !== 0) return null;
  const out = await new Deno.Command("id", { args: ["-u", "postgres"] })
    .output();
  const gid = await new Deno.Command("id", { args: ["-g", "postgres"] })
    .output();
  return {
    uid: Number(new TextDecoder().decode(out.stdout).trim()),
    gid: Number(new TextDecoder().decode(gid.stdout).trim()),
  };
}

async function currentUser(uri: string): Promise<Record<string, unknown>> {
  const db = createDb({ ...DEFAULT_CONFIG, dbUri: uri, dbPool: 1 });
  try {
    const rows = await db.query(
      "select current_user::text as u, coalesce((select ssl from pg_stat_ssl where pid = pg_backend_pid()), false) as ssl",
      [],
    );
    return rows[0] ?? {};
  } finally {
    await db.close();
  }
}

Deno.test({
  name:
    "request connections: SCRAM, MD5 and cleartext passwords, unix socket, TLS require and verify-full",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cluster = await startTestCluster({ fresh: true });
    const tmp = await Deno.makeTempDir({ prefix: "pgrest-conn-" });
    const su = postgres(cluster.superUri, { onnotice: () => {}, max: 1 });
    try {
      const port = cluster.port!;
      await su.unsafe(`create role scram_user login password 'scr@m pass:/'`);
      await su.unsafe(`set password_encryption = 'md5'`);
      await su.unsafe(`create role md5_user login password 'md5 pass'`);
      await su.unsafe(`reset password_encryption`);
      await su.unsafe(`create role clear_user login password 'clear pass'`);
      const [{ hba, data }] = await su.unsafe(
        `select current_setting('hba_file') as hba, current_setting('data_directory') as data`,
      ) as unknown as [{ hba: string; data: string }];
      const old = await Deno.readTextFile(hba);
      await Deno.writeTextFile(
        hba,
        [
          "host all scram_user 127.0.0.1/32 scram-sha-256",
          "host all md5_user 127.0.0.1/32 md5",
          "host all clear_user 127.0.0.1/32 password",
          old,
        ].join("\n"),
      );
      // a CA and a server certificate for localhost signed by it
      await run("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=pgrest test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
      ], tmp);
      await run("openssl", [
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
      ], tmp);
      await Deno.writeTextFile(
        `${tmp}/ext.cnf`,
        "subjectAltName=DNS:localhost\n",
      );
      await run("openssl", [
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
      ], tmp);
      const owner = await postgresOwner();
      for (const f of ["server.crt", "server.key"]) {
        await Deno.copyFile(`${tmp}/${f}`, `${data}/${f}`);
        await Deno.chmod(`${data}/${f}`, 0o600);
        if (owner) await Deno.chown(`${data}/${f}`, owner.uid, owner.gid);
      }
      await su.unsafe(`alter system set ssl = on`);
      await su.unsafe(`select pg_reload_conf()`);
      // the reload is asynchronous
      await new Promise((r) => setTimeout(r, 500));

      const tcp = (auth: string, query = "?sslmode=disable") =>
        `postgres://${auth}@127.0.0.1:${port}/${DB}${query}`;
      assert.deepEqual(
        await currentUser(
          tcp(`scram_user:${encodeURIComponent("scr@m pass:/")}`),
        ),
        { u: "scram_user", ssl: false },
      );
      assert.deepEqual(
        await currentUser(tcp(`md5_user:${encodeURIComponent("md5 pass")}`)),
        { u: "md5_user", ssl: false },
      );
      assert.deepEqual(
        await currentUser(
          tcp(`clear_user:${encodeURIComponent("clear pass")}`),
        ),
        { u: "clear_user", ssl: false },
      );

      // a wrong password: 503, and the password is not in the answer
      await assert.rejects(
        currentUser(tcp("scram_user:not-the-secret-xyz")),
        (e: unknown) => {
          assert.ok(e instanceof PgrstError);
          assert.equal(e.status, 503);
          assert.ok(!JSON.stringify(e.body("verbose")).includes("xyz"));
          return true;
        },
      );

      // the unix socket
      const dir = encodeURIComponent(cluster.socketDir!);
      assert.deepEqual(
        await currentUser(
          `postgres://pgrest_authenticator@${dir}:${port}/${DB}`,
        ),
        { u: "pgrest_authenticator", ssl: false },
      );

      // TLS: by default when the server offers it (sslmode=prefer, as
      // libpq), and without and with certificate checks
      assert.deepEqual(await currentUser(tcp("pgrest_authenticator", "")), {
        u: "pgrest_authenticator",
        ssl: true,
      });
      assert.deepEqual(
        await currentUser(tcp("pgrest_authenticator", "?sslmode=require")),
        { u: "pgrest_authenticator", ssl: true },
      );
      assert.deepEqual(
        await currentUser(
          `postgres://scram_user:${
            encodeURIComponent("scr@m pass:/")
          }@localhost:${port}/${DB}?sslmode=verify-full&sslrootcert=${tmp}/ca.crt`,
        ),
        { u: "scram_user", ssl: true },
      );
      // verify-full refuses a certificate from an unknown CA
      await assert.rejects(
        currentUser(
          `postgres://pgrest_authenticator@localhost:${port}/${DB}?sslmode=verify-full`,
        ),
        (e: unknown) => e instanceof PgrstError && e.status === 503,
      );
    } finally {
      await su.end();
      await cluster.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
