/**
 * A small login service for pgrest: completes GitHub's OAuth authorization
 * code flow and answers a JWT that pgrest accepts.
 *
 * - `GET /login` redirects to `${githubBase}/login/oauth/authorize` with the
 *   client id, the callback URL and a random `state`, which is also set in an
 *   HttpOnly cookie (CSRF protection).
 * - `GET /callback?code=…&state=…` checks the state against the cookie,
 *   exchanges the code at `${githubBase}/login/oauth/access_token`, reads the
 *   user from `${githubApi}/user`, and answers `{"token": "<jwt>"}`: HS256,
 *   signed with pgrest's `jwt-secret`, with `role` (default `github_user`),
 *   `sub` (the GitHub login), `github_id`, `iat` and `exp`.
 *
 * Run it with
 *
 * ```sh
 * GITHUB_CLIENT_ID=… GITHUB_CLIENT_SECRET=… JWT_SECRET=… \
 *   deno run --allow-net --allow-env examples/github-oauth/service.ts
 * ```
 *
 * Other variables: `GITHUB_BASE` (https://github.com), `GITHUB_API`
 * (https://api.github.com), `OAUTH_REDIRECT_URI` (default: this service's
 * origin + `/callback`), `JWT_ROLE` (github_user), `JWT_TTL` (seconds,
 * 3600), `HOST` (127.0.0.1), `PORT` (8080).
 *
 * @module
 */

import * as jose from "jose";

/** Configuration of {@linkcode createHandler}. */
export interface OAuthConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  /** pgrest's `jwt-secret` (an HMAC secret of 32+ characters). */
  readonly jwtSecret: string;
  /** GitHub's web origin, e.g. `https://github.com`. */
  readonly githubBase: string;
  /** GitHub's API origin, e.g. `https://api.github.com`. */
  readonly githubApi: string;
  /** The registered callback URL; default: the request's origin + `/callback`. */
  readonly redirectUri?: string;
  /** The `role` claim (default `github_user`). */
  readonly role?: string;
  /** Token lifetime in seconds (default 3600). */
  readonly ttlSeconds?: number;
  /** The `scope` asked for (default `read:user`). */
  readonly scope?: string;
  /** The fetch used to call GitHub (default: global fetch). */
  readonly fetch?: typeof fetch;
}

const STATE_COOKIE = "gh_oauth_state";

/** The GitHub user fields the service reads. */
interface GitHubUser {
  readonly login: string;
  readonly id: number;
}

/** Builds the service's request handler. */
export function createHandler(
  cfg: OAuthConfig,
): (req: Request) => Promise<Response> {
  const doFetch = cfg.fetch ?? fetch;
  const key = new TextEncoder().encode(cfg.jwtSecret);
  const base = cfg.githubBase.replace(/\/+$/, "");
  const api = cfg.githubApi.replace(/\/+$/, "");

  const callbackUrl = (req: Request): string =>
    cfg.redirectUri ?? `${new URL(req.url).origin}/callback`;

  function login(req: Request): Response {
    const state = randomState();
    const redirectUri = callbackUrl(req);
    const target = new URL(`${base}/login/oauth/authorize`);
    target.searchParams.set("client_id", cfg.clientId);
    target.searchParams.set("redirect_uri", redirectUri);
    target.searchParams.set("scope", cfg.scope ?? "read:user");
    target.searchParams.set("state", state);
    const secure = redirectUri.startsWith("https:") ? "; Secure" : "";
    return new Response(null, {
      status: 302,
      headers: {
        location: target.toString(),
        "set-cookie":
          `${STATE_COOKIE}=${state}; Path=/; HttpOnly; SameSite=Lax; Max-Age=600${secure}`,
        "cache-control": "no-store",
      },
    });
  }

  async function callback(req: Request): Promise<Response> {
    const params = new URL(req.url).searchParams;
    const code = params.get("code");
    const state = params.get("state");
    const expected = cookie(req, STATE_COOKIE);
    if (params.get("error") !== null) {
      return error(
        401,
        params.get("error_description") ?? params.get("error")!,
      );
    }
    if (code === null || state === null) {
      return error(400, "missing code or state");
    }
    if (expected === null || !constantTimeEqual(state, expected)) {
      return error(400, "state mismatch");
    }

    let accessToken: string;
    try {
      const res = await doFetch(`${base}/login/oauth/access_token`, {
        method: "POST",
        headers: {
          accept: "application/json",
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({
          client_id: cfg.clientId,
          client_secret: cfg.clientSecret,
          code,
          redirect_uri: callbackUrl(req),
        }),
      });
      const body: unknown = await res.json();
      const token = field(body, "access_token");
      if (!res.ok || typeof token !== "string") {
        // GitHub answers 200 with {"error": …} for a bad or used code.
        const why = field(body, "error_description") ?? field(body, "error");
        return error(401, `code exchange failed: ${String(why ?? res.status)}`);
      }
      accessToken = token;
    } catch (e) {
      return error(502, `code exchange failed: ${message(e)}`);
    }

    let user: GitHubUser;
    try {
      const res = await doFetch(`${api}/user`, {
        headers: {
          accept: "application/vnd.github+json",
          authorization: `Bearer ${accessToken}`,
          "user-agent": "pgrest-github-oauth-example",
          "x-github-api-version": "2022-11-28",
        },
      });
      const body: unknown = await res.json();
      const login = field(body, "login");
      const id = field(body, "id");
      if (!res.ok || typeof login !== "string" || typeof id !== "number") {
        return error(502, `GitHub /user answered ${res.status}`);
      }
      user = { login, id };
    } catch (e) {
      return error(502, `GitHub /user failed: ${message(e)}`);
    }

    const token = await new jose.SignJWT({
      role: cfg.role ?? "github_user",
      github_id: user.id,
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(user.login)
      .setIssuedAt()
      .setExpirationTime(
        Math.floor(Date.now() / 1000) + (cfg.ttlSeconds ?? 3600),
      )
      .sign(key);

    return new Response(JSON.stringify({ token }), {
      status: 200,
      headers: {
        "content-type": "application/json",
        "cache-control": "no-store",
        // the state is single-use
        "set-cookie": `${STATE_COOKIE}=; Path=/; HttpOnly; Max-Age=0`,
      },
    });
  }

  return async (req: Request): Promise<Response> => {
    const { pathname } = new URL(req.url);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return error(405, "method not allowed");
    }
    if (pathname === "/login") return login(req);
    if (pathname === "/callback") return await callback(req);
    return error(404, "not found");
  };
}

/**
 * Reads the configuration from the environment.
 *
 * @throws Error naming a missing variable
 */
export function configFromEnv(
  env: { get(name: string): string | undefined } = Deno.env,
): OAuthConfig {
  const required = (name: string): string => {
    const v = env.get(name);
    if (v === undefined || v === "") throw new Error(`${name} is not set`);
    return v;
  };
  const redirectUri = env.get("OAUTH_REDIRECT_URI");
  const role = env.get("JWT_ROLE");
  const ttl = env.get("JWT_TTL");
  if (ttl && !(Number.isInteger(Number(ttl)) && Number(ttl) > 0)) {
    throw new Error(`JWT_TTL must be a positive integer: ${ttl}`);
  }
  return {
    clientId: required("GITHUB_CLIENT_ID"),
    clientSecret: required("GITHUB_CLIENT_SECRET"),
    jwtSecret: required("JWT_SECRET"),
    githubBase: env.get("GITHUB_BASE") ?? "https://github.com",
    githubApi: env.get("GITHUB_API") ?? "https://api.github.com",
    ...(redirectUri ? { redirectUri } : {}),
    ...(role ? { role } : {}),
    ...(ttl ? { ttlSeconds: Number(ttl) } : {}),
  };
}

function error(status: number, msg: string): Response {
  return new Response(JSON.stringify({ error: msg }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function randomState(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_").replaceAll("=", "");
}

function cookie(req: Request, name: string): string | null {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      return part.slice(eq + 1).trim();
    }
  }
  return null;
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function field(body: unknown, name: string): unknown {
  return typeof body === "object" && body !== null
    ? (body as Record<string, unknown>)[name]
    : undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

if (import.meta.main) {
  const cfg = configFromEnv();
  if (new TextEncoder().encode(cfg.jwtSecret).length < 32) {
    throw new Error("JWT_SECRET must be at least 32 characters");
  }
  Deno.serve({
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? "8080"),
  }, createHandler(cfg));
}
