/**
 * Owns reading a connection URI (`postgres://user:pass@host:port/db?…`, or
 * a libpq `key=value` string turned into one by `connectionUrl`) into the
 * options the request connections use, with the same defaults as
 * postgres.js and libpq: `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
 * `PGDATABASE`, `PGAPPNAME`, `PGSSLMODE`; a host that is a directory is a
 * unix socket directory; `sslmode` (libpq's default, `prefer`) and
 * `sslrootcert`; `connect_timeout`;
 * any other query parameter is sent as a startup parameter (e.g.
 * `options=-c search_path=x`).
 *
 * @module
 */

/** How TLS is used, as libpq's `sslmode`. */
export type SslMode =
  | "disable"
  | "allow"
  | "prefer"
  | "require"
  | "verify-ca"
  | "verify-full";

/** Where and how to connect. */
export interface ConnectOptions {
  /** TCP host, or null for a unix socket. */
  readonly host: string | null;
  readonly port: number;
  /** Unix socket path (`<dir>/.s.PGSQL.<port>`), or null for TCP. */
  readonly socketPath: string | null;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly sslMode: SslMode;
  /** PEM file of the CA certificates to trust (verify-ca/verify-full). */
  readonly sslRootCert: string | null;
  readonly connectTimeoutMs: number;
  /** Startup parameters besides user and database. */
  readonly startup: Readonly<Record<string, string>>;
}

const SSL_MODES: readonly SslMode[] = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
];

/** Query parameters that are options here, not startup parameters. */
const NOT_STARTUP = new Set([
  "sslmode",
  "ssl",
  "sslrootcert",
  "sslcert",
  "sslkey",
  "sslnegotiation",
  "connect_timeout",
  "host",
  "hostaddr",
  "port",
  "user",
  "password",
  "dbname",
  "target_session_attrs",
  "max",
  "idle_timeout",
  "max_lifetime",
  "prepare",
  "fetch_types",
  "keep_alive",
  "backoff",
  "max_pipeline",
  "publications",
  "debug",
]);

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Reads a postgres:// URL.
 * @throws Error for several hosts, a bad port or an unknown sslmode
 */
export function parseConnectOptions(
  url: string,
  defaults: { applicationName: string; connectTimeoutSeconds: number },
): ConnectOptions {
  // the authority may hold a percent-encoded socket directory, which URL
  // would reject as a host: take it out first
  const afterScheme = url.slice(url.indexOf("://") + 3);
  const authority = afterScheme.split(/[?/]/)[0] ?? "";
  const at = authority.lastIndexOf("@");
  const hostPort = decodeURIComponent(authority.slice(at + 1));
  if (hostPort.includes(",")) {
    throw new Error("several hosts in db-uri are not supported");
  }
  const u = new URL(
    `postgres://${authority.slice(0, at + 1)}localhost${
      afterScheme.slice(authority.length)
    }`,
  );
  const query = new Map(u.searchParams);
  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith("/")) {
    const colon = hostPort.lastIndexOf(":");
    const maybePort = colon > 0 ? hostPort.slice(colon + 1) : "";
    if (/^\d+$/.test(maybePort)) {
      host = hostPort.slice(0, colon);
      portText = maybePort;
    } else host = hostPort;
  } else if (hostPort.startsWith("[")) {
    const close = hostPort.indexOf("]");
    host = hostPort.slice(1, close);
    portText = hostPort.slice(close + 2) || undefined;
  } else {
    const colon = hostPort.lastIndexOf(":");
    host = colon >= 0 ? hostPort.slice(0, colon) : hostPort;
    portText = colon >= 0 ? hostPort.slice(colon + 1) : undefined;
  }
  host = query.get("host") ?? (host || (env("PGHOST") ?? "localhost"));
  portText = query.get("port") ?? portText ?? env("PGPORT") ?? "5432";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error("invalid port in db-uri");
  }
  const user = query.get("user") ?? (decodeURIComponent(u.username) ||
    (env("PGUSER") ?? env("USER") ?? "postgres"));
  const password = query.get("password") ??
    (decodeURIComponent(u.password) || (env("PGPASSWORD") ?? ""));
  const database = query.get("dbname") ??
    (decodeURIComponent(u.pathname.slice(1)) ||
      (env("PGDATABASE") ?? user));
  const sslText = query.get("sslmode") ?? query.get("ssl") ??
    env("PGSSLMODE") ?? "prefer";
  const sslMode = sslText === "false"
    ? "disable"
    : sslText === "true"
    ? "require"
    : SSL_MODES.find((m) => m === sslText);
  if (sslMode === undefined) throw new Error("invalid sslmode in db-uri");
  const rootCert = query.get("sslrootcert") ?? null;
  const timeoutText = query.get("connect_timeout");
  const connectTimeoutMs = 1000 *
    (timeoutText !== undefined && /^\d+$/.test(timeoutText)
      ? Number(timeoutText)
      : defaults.connectTimeoutSeconds);
  const startup: Record<string, string> = {
    application_name: env("PGAPPNAME") ?? defaults.applicationName,
  };
  for (const [k, v] of query) {
    if (!NOT_STARTUP.has(k)) startup[k] = v;
  }
  const unix = host.startsWith("/");
  return {
    host: unix ? null : host,
    port,
    socketPath: unix ? `${host}/.s.PGSQL.${port}` : null,
    user,
    password,
    database,
    sslMode: rootCert === "system" && sslMode === "disable"
      ? "verify-full"
      : sslMode,
    sslRootCert: rootCert === "system" ? null : rootCert,
    connectTimeoutMs: connectTimeoutMs > 0 ? connectTimeoutMs : 10_000,
    startup,
  };
}
