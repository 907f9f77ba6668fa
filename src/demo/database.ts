/**
 * Owns the demo's embedded PostgreSQL: a PGlite instance (in memory, or in a
 * directory) with the sample schema, served over TCP on a loopback port by
 * pglite-socket so that pgrest's driver (postgres.js) can connect to it.
 *
 * PGlite is one PostgreSQL backend. pglite-socket multiplexes client
 * connections onto it message by message, which is unsafe for pipelined
 * extended-protocol clients like pgrest's pool (statements of two clients
 * could interleave before a BEGIN). So the socket accepts ONE connection,
 * and pgrest runs with a pool of one long-lived connection.
 *
 * PGlite authenticates nobody: the user name in the connection URI is
 * ignored and the backend's session starts as the superuser `postgres`. The
 * demo runs `SET SESSION AUTHORIZATION authenticator` on that one session
 * before serving it, so pgrest's requests run as `authenticator` and switch
 * to `anon` or `author` like against a real server. That is demo-grade only:
 * a client that could send arbitrary SQL could switch back to `postgres`.
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import { pgcrypto } from "@electric-sql/pglite/contrib/pgcrypto";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { AUTHENTICATOR_ROLE, loadSampleSchema } from "./schema.ts";

/** A running demo database. */
export interface DemoDatabase {
  /** The loopback port of the socket server. */
  readonly port: number;
  /** Whether the sample schema was loaded now (false: found persisted). */
  readonly loaded: boolean;
  /** Stops the socket server and closes PGlite (flushing a data dir). */
  stop(): Promise<void>;
}

/** Options of {@linkcode startDemoDatabase}. */
export interface DemoDatabaseOptions {
  /** A directory to persist the database in; in memory when null. */
  readonly dataDir: string | null;
}

/** Starts PGlite, loads the sample schema and serves it on 127.0.0.1. */
export async function startDemoDatabase(
  options: DemoDatabaseOptions,
): Promise<DemoDatabase> {
  if (options.dataDir !== null) {
    await Deno.mkdir(options.dataDir, { recursive: true });
  }
  const db = await PGlite.create({
    ...(options.dataDir === null ? {} : { dataDir: options.dataDir }),
    extensions: { pgcrypto },
  });
  let server: PGLiteSocketServer | null = null;
  try {
    const loaded = await loadSampleSchema(db);
    await db.exec(`set session authorization ${AUTHENTICATOR_ROLE}`);
    server = new PGLiteSocketServer({
      db,
      host: "127.0.0.1",
      port: 0,
      maxConnections: 1,
    });
    await server.start();
    const port = Number(server.getServerConn().split(":").at(-1));
    if (!Number.isInteger(port) || port <= 0) {
      throw new Error(
        `pglite-socket reported no port (${server.getServerConn()})`,
      );
    }
    const running = server;
    let stopping: Promise<void> | null = null;
    return {
      port,
      loaded,
      stop() {
        stopping ??= (async () => {
          await running.stop().catch(() => {});
          await db.close();
        })();
        return stopping;
      },
    };
  } catch (e) {
    await server?.stop().catch(() => {});
    await db.close().catch(() => {});
    throw e;
  }
}
