/**
 * Runs the worked examples in examples/ through pgrest: each test creates a
 * fresh database in the test cluster as the superuser, loads the example's
 * SQL, grants the example's roles to the authenticator, and spawns main.ts
 * (tests/harness/server.ts) against it.
 *
 * - sql-user-management: signup, login → {"token"}, the token's role and
 *   row-level security on api.todos, wrong passwords → 401 PT401.
 * - basic-auth: a db-pre-request function that checks
 *   `Authorization: Basic …` against the same users table.
 * - github-oauth: examples/github-oauth/service.ts against a local stand-in
 *   for GitHub's OAuth and API endpoints; its JWT then reads from pgrest.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`), except the service-only
 * test.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as jose from "jose";
import postgres from "postgres";
import { AUTHENTICATOR_ROLE } from "../harness/with_pg.ts";
import { startServer, type TestServer } from "../harness/server.ts";
import {
  createHandler,
  type OAuthConfig,
} from "../../examples/github-oauth/service.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const superUri = Deno.env.get("PGRST_TEST_DB_SUPER_URI") ??
  (uri === undefined ? undefined : withDatabase(uri, null, "postgres"));
const SECRET = "worked-examples-secret-of-32-chars-or-more";
const EXAMPLES = new URL("../../examples/", import.meta.url);

/** `uri` with another database (and, if given, user). */
function withDatabase(base: string, db: string | null, user?: string): string {
  const url = new URL(base);
  if (db !== null) url.pathname = `/${db}`;
  if (user !== undefined) {
    url.username = user;
    url.password = "";
  }
  return url.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A fresh database with an example loaded. */
interface ExampleDb extends AsyncDisposable {
  /** The URI pgrest connects with (the authenticator). */
  readonly uri: string;
  /** A superuser connection to the database. */
  readonly sql: postgres.Sql;
}

/**
 * Creates database `name` (dropping a leftover), loads `files` (paths under
 * examples/) as the superuser and grants `roles` to the authenticator. On
 * dispose, drops the database and the roles.
 */
async function exampleDb(
  name: string,
  files: readonly string[],
  roles: readonly string[],
): Promise<ExampleDb> {
  const authenticator = decodeURIComponent(new URL(uri!).username) ||
    AUTHENTICATOR_ROLE;
  const admin = postgres(withDatabase(superUri!, "postgres"), {
    max: 1,
    onnotice: () => {},
  });
  let sql: postgres.Sql | null = null;
  const dispose = async () => {
    await sql?.end();
    try {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      for (const role of roles) {
        await admin.unsafe(`drop role if exists ${quoteIdent(role)}`);
      }
    } finally {
      await admin.end();
    }
  };
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
    sql = postgres(withDatabase(superUri!, name), {
      max: 1,
      onnotice: () => {},
    });
    for (const file of files) {
      const text = await Deno.readTextFile(new URL(file, EXAMPLES));
      await sql.unsafe(text).simple();
    }
    await sql.unsafe(
      `grant ${roles.map(quoteIdent).join(", ")} to ${
        quoteIdent(authenticator)
      }`,
    );
    return {
      uri: withDatabase(uri!, name),
      sql,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** Spawns main.ts against an example database. */
function pgrest(
  db: ExampleDb,
  anonRole: string,
  env: Record<string, string> = {},
): Promise<TestServer> {
  return startServer({
    env: {
      PGRST_DB_URI: db.uri,
      PGRST_DB_SCHEMAS: "api",
      PGRST_DB_ANON_ROLE: anonRole,
      PGRST_JWT_SECRET: SECRET,
      ...env,
    },
  });
}

/** A finished response: status, headers and parsed (or raw) body. */
interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/** Sends a request; a JSON `body` is sent as application/json. */
async function call(
  base: string,
  path: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: unknown;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    redirect: "manual",
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body };
}

function expectStatus(a: Answer, status: number): void {
  assert.equal(a.status, status, JSON.stringify(a.body));
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (user: string, pass: string) => ({
  authorization: `Basic ${
    btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${pass}`)))
  }`,
});

/** POST /rpc/login; returns the token. */
async function login(
  base: string,
  email: string,
  pass: string,
): Promise<string> {
  const a = await call(base, "/rpc/login", { body: { email, pass } });
  expectStatus(a, 200);
  const token = (a.body as { token?: unknown }).token;
  assert.equal(typeof token, "string", JSON.stringify(a.body));
  return token as string;
}

const tasks = (body: unknown) =>
  (body as { task: string }[]).map((t) => t.task).sort();

// ---------------------------------------------------------------------------
// 1. SQL user management

Deno.test({
  name: "example sql-user-management: signup, login, JWT role and RLS",
  ignore: uri === undefined,
  async fn() {
    await using db = await exampleDb(
      "example_sql_user_management",
      ["sql-user-management/schema.sql"],
      ["todo_anon", "todo_user"],
    );
    await using server = await pgrest(db, "todo_anon");
    const url = server.url;

    for (
      const [email, pass] of [["alice@example.com", "alice-pw"], [
        "bob@example.com",
        "bob-pw",
      ]] as const
    ) {
      expectStatus(
        await call(url, "/rpc/signup", { body: { email, pass } }),
        204,
      );
    }
    // the email is the primary key
    const dup = await call(url, "/rpc/signup", {
      body: { email: "alice@example.com", pass: "x" },
    });
    expectStatus(dup, 409);
    assert.equal((dup.body as { code: string }).code, "23505");

    // passwords are stored as bcrypt hashes
    const stored = await db.sql`select pass from basic_auth.users
      where email = 'alice@example.com'`;
    assert.match(String(stored[0]?.["pass"]), /^\$2[aby]\$/);

    // login: the jwt_claims result comes back signed
    const alice = await login(url, "alice@example.com", "alice-pw");
    const claims = jose.decodeJwt(alice);
    assert.equal(claims["role"], "todo_user");
    assert.equal(claims["email"], "alice@example.com");
    assert.ok((claims.exp ?? 0) > Date.now() / 1000 + 3000);
    await jose.jwtVerify(alice, new TextEncoder().encode(SECRET));
    const bob = await login(url, "bob@example.com", "bob-pw");

    // wrong password and unknown user: 401 PT401
    for (
      const body of [
        { email: "alice@example.com", pass: "wrong" },
        { email: "nobody@example.com", pass: "alice-pw" },
      ]
    ) {
      const bad = await call(url, "/rpc/login", { body });
      expectStatus(bad, 401);
      assert.deepEqual(bad.body, {
        code: "PT401",
        message: "invalid email or password",
        details: null,
        hint: null,
      });
    }

    // the anonymous role cannot read todos
    expectStatus(await call(url, "/todos"), 401);
    // api.login is granted to the anonymous role only
    expectStatus(
      await call(url, "/rpc/login", {
        headers: bearer(alice),
        body: { email: "alice@example.com", pass: "alice-pw" },
      }),
      403,
    );

    // each user writes todos; the owner defaults to the token's email
    const created = await call(url, "/todos", {
      headers: { ...bearer(alice), prefer: "return=representation" },
      body: [{ task: "buy milk" }, { task: "write docs" }],
    });
    expectStatus(created, 201);
    assert.deepEqual(
      (created.body as { owner: string }[]).map((t) => t.owner),
      ["alice@example.com", "alice@example.com"],
    );
    expectStatus(
      await call(url, "/todos", {
        headers: bearer(bob),
        body: { task: "walk the dog" },
      }),
      201,
    );

    // each user sees only their own rows
    const mine = await call(url, "/todos?select=task,owner", {
      headers: bearer(alice),
    });
    expectStatus(mine, 200);
    assert.deepEqual(tasks(mine.body), ["buy milk", "write docs"]);
    const bobs = await call(url, "/todos", { headers: bearer(bob) });
    assert.deepEqual(tasks(bobs.body), ["walk the dog"]);

    // alice can neither write as bob nor change bob's rows
    const forged = await call(url, "/todos", {
      headers: bearer(alice),
      body: { task: "forged", owner: "bob@example.com" },
    });
    expectStatus(forged, 403);
    assert.equal((forged.body as { code: string }).code, "42501");
    const patched = await call(url, "/todos?task=eq.walk%20the%20dog", {
      method: "PATCH",
      headers: { ...bearer(alice), prefer: "return=representation" },
      body: { done: true },
    });
    expectStatus(patched, 200);
    assert.deepEqual(patched.body, []);
    const [row] = await db.sql`select done from api.todos
      where task = 'walk the dog'`;
    assert.equal(row?.["done"], false);

    const status = await server.stop();
    assert.equal(status.code, 0, server.output());
  },
});

// ---------------------------------------------------------------------------
// 2. HTTP Basic authentication in db-pre-request

Deno.test({
  name: "example basic-auth: db-pre-request checks Basic credentials",
  ignore: uri === undefined,
  async fn() {
    await using db = await exampleDb(
      "example_basic_auth",
      ["sql-user-management/schema.sql", "basic-auth/basic_auth.sql"],
      ["todo_anon", "todo_user"],
    );
    await db.sql`insert into basic_auth.users (email, pass, role) values
      ('alice@example.com', 'alice-pw', 'todo_user'),
      ('bob@example.com', 'bob:pw:é', 'todo_user')`;
    await using server = await pgrest(db, "todo_anon", {
      PGRST_DB_PRE_REQUEST: "basic_auth.pre_request",
    });
    const url = server.url;
    const alice = basic("alice@example.com", "alice-pw");
    const bob = basic("bob@example.com", "bob:pw:é");

    // without credentials: anonymous, with a hint to use Basic
    const anon = await call(url, "/rpc/whoami");
    expectStatus(anon, 200);
    assert.deepEqual(anon.body, { role: "todo_anon", email: null });
    assert.equal(anon.headers.get("www-authenticate"), 'Basic realm="todos"');
    expectStatus(await call(url, "/todos"), 401);

    // with credentials: the user's role and email
    const me = await call(url, "/rpc/whoami", { headers: alice });
    expectStatus(me, 200);
    assert.deepEqual(me.body, {
      role: "todo_user",
      email: "alice@example.com",
    });
    assert.equal(me.headers.get("www-authenticate"), null);

    expectStatus(
      await call(url, "/todos", {
        headers: alice,
        body: [{ task: "buy milk" }, { task: "write docs" }],
      }),
      201,
    );
    expectStatus(
      await call(url, "/todos", {
        headers: bob,
        body: { task: "walk the dog" },
      }),
      201,
    );
    const mine = await call(url, "/todos", { headers: alice });
    expectStatus(mine, 200);
    assert.deepEqual(tasks(mine.body), ["buy milk", "write docs"]);
    const bobs = await call(url, "/todos", { headers: bob });
    expectStatus(bobs, 200);
    assert.deepEqual(tasks(bobs.body), ["walk the dog"]);

    // wrong, unknown or malformed credentials: 401 with a Basic challenge
    for (
      const headers of [
        basic("alice@example.com", "wrong"),
        basic("nobody@example.com", "alice-pw"),
        basic("alice@example.com", ""),
        { authorization: "Basic not-base64!" },
        { authorization: `Basic ${btoa("no-colon")}` },
      ]
    ) {
      const bad = await call(url, "/todos", { headers });
      expectStatus(bad, 401);
      assert.equal(bad.headers.get("www-authenticate"), 'Basic realm="todos"');
      assert.deepEqual(bad.body, {
        code: "PT401",
        message: "invalid credentials",
        details: null,
        hint: null,
      });
    }

    // a JWT from api.login still works next to Basic
    const token = await login(url, "alice@example.com", "alice-pw");
    const viaJwt = await call(url, "/todos", { headers: bearer(token) });
    expectStatus(viaJwt, 200);
    assert.deepEqual(tasks(viaJwt.body), ["buy milk", "write docs"]);

    const status = await server.stop();
    assert.equal(status.code, 0, server.output());
  },
});

// ---------------------------------------------------------------------------
// 3. GitHub OAuth

const CLIENT_ID = "example-client-id";
const CLIENT_SECRET = "example-client-secret";

interface FakeGitHub extends AsyncDisposable {
  readonly url: string;
  /** The user who "approves" the next authorization. */
  user: { login: string; id: number };
}

/**
 * A stand-in for github.com's OAuth endpoints and api.github.com's `/user`,
 * strict about client credentials, single-use codes and redirect URIs.
 */
function fakeGitHub(): FakeGitHub {
  const codes = new Map<
    string,
    { user: { login: string; id: number }; redirectUri: string }
  >();
  const tokens = new Map<string, { login: string; id: number }>();
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json" },
    });
  const fake = {
    url: "",
    user: { login: "octocat", id: 583231 },
  };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, async (req) => {
    const url = new URL(req.url);
    if (req.method === "GET" && url.pathname === "/login/oauth/authorize") {
      const redirectUri = url.searchParams.get("redirect_uri");
      const state = url.searchParams.get("state");
      if (
        url.searchParams.get("client_id") !== CLIENT_ID ||
        redirectUri === null || state === null
      ) {
        return json({ error: "bad authorize request" }, 400);
      }
      const code = crypto.randomUUID();
      codes.set(code, { user: fake.user, redirectUri });
      const back = new URL(redirectUri);
      back.searchParams.set("code", code);
      back.searchParams.set("state", state);
      return new Response(null, {
        status: 302,
        headers: { location: back.toString() },
      });
    }
    if (
      req.method === "POST" && url.pathname === "/login/oauth/access_token"
    ) {
      const form = new URLSearchParams(await req.text());
      const grant = codes.get(form.get("code") ?? "");
      codes.delete(form.get("code") ?? "");
      if (
        form.get("client_id") !== CLIENT_ID ||
        form.get("client_secret") !== CLIENT_SECRET
      ) {
        return json({ error: "incorrect_client_credentials" });
      }
      if (grant === undefined) {
        return json({
          error: "bad_verification_code",
          error_description: "The code passed is incorrect or expired.",
        });
      }
      if (form.get("redirect_uri") !== grant.redirectUri) {
        return json({ error: "redirect_uri_mismatch" });
      }
      const token = `gho_${crypto.randomUUID().replaceAll("-", "")}`;
      tokens.set(token, grant.user);
      return json({ access_token: token, token_type: "bearer", scope: "" });
    }
    if (req.method === "GET" && url.pathname === "/user") {
      const auth = req.headers.get("authorization") ?? "";
      const user = tokens.get(auth.replace(/^Bearer /, ""));
      if (user === undefined) return json({ message: "Bad credentials" }, 401);
      return json({ ...user, type: "User", name: null });
    }
    return json({ message: "Not Found" }, 404);
  });
  fake.url = `http://127.0.0.1:${server.addr.port}`;
  return Object.assign(fake, {
    [Symbol.asyncDispose]: () => server.shutdown(),
  });
}

/** The OAuth service, in-process, talking to `github`. */
function oauthService(
  github: FakeGitHub,
): { url: string } & AsyncDisposable {
  const cfg: OAuthConfig = {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    jwtSecret: SECRET,
    githubBase: github.url,
    githubApi: github.url,
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createHandler(cfg),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Follows /login → GitHub → /callback like a browser; the last answer. */
async function oauthFlow(
  service: string,
  tamper: { state?: string; code?: string; cookie?: boolean } = {},
): Promise<Answer> {
  const start = await call(service, "/login");
  expectStatus(start, 302);
  const authorize = new URL(start.headers.get("location") ?? "");
  assert.equal(authorize.pathname, "/login/oauth/authorize");
  assert.equal(authorize.searchParams.get("client_id"), CLIENT_ID);
  assert.equal(
    authorize.searchParams.get("redirect_uri"),
    `${service}/callback`,
  );
  const cookie = start.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  assert.match(cookie, /^gh_oauth_state=./);

  const approved = await call(
    authorize.origin,
    authorize.pathname + authorize.search,
  );
  expectStatus(approved, 302);
  const back = new URL(approved.headers.get("location") ?? "");
  assert.equal(`${back.origin}${back.pathname}`, `${service}/callback`);
  if (tamper.state !== undefined) back.searchParams.set("state", tamper.state);
  if (tamper.code !== undefined) back.searchParams.set("code", tamper.code);
  return await call(service, back.pathname + back.search, {
    headers: tamper.cookie === false ? {} : { cookie },
  });
}

Deno.test("example github-oauth: the service rejects forged callbacks", async () => {
  await using github = fakeGitHub();
  await using service = oauthService(github);

  const noCookie = await oauthFlow(service.url, { cookie: false });
  expectStatus(noCookie, 400);
  const wrongState = await oauthFlow(service.url, { state: "forged" });
  expectStatus(wrongState, 400);
  assert.deepEqual(wrongState.body, { error: "state mismatch" });
  const badCode = await oauthFlow(service.url, { code: "made-up" });
  expectStatus(badCode, 401);
  assert.match(String((badCode.body as { error: string }).error), /incorrect/);
  expectStatus(await call(service.url, "/callback"), 400);
  expectStatus(await call(service.url, "/elsewhere"), 404);

  const ok = await oauthFlow(service.url);
  expectStatus(ok, 200);
  const token = (ok.body as { token: string }).token;
  const { payload, protectedHeader } = await jose.jwtVerify(
    token,
    new TextEncoder().encode(SECRET),
  );
  assert.equal(protectedHeader.alg, "HS256");
  assert.equal(payload["role"], "github_user");
  assert.equal(payload.sub, "octocat");
  assert.equal(payload["github_id"], 583231);
  assert.ok((payload.exp ?? 0) > Date.now() / 1000 + 3000);
});

Deno.test({
  name: "example github-oauth: the service's JWT reads the user's rows",
  ignore: uri === undefined,
  async fn() {
    await using db = await exampleDb(
      "example_github_oauth",
      ["github-oauth/schema.sql"],
      ["github_anon", "github_user"],
    );
    await db.sql`insert into api.notes (owner, body) values
      ('octocat', 'seeded for octocat'), ('hubot', 'seeded for hubot')`;
    await using server = await pgrest(db, "github_anon");
    await using github = fakeGitHub();
    await using service = oauthService(github);

    const tokenFor = async (login: string, id: number) => {
      github.user = { login, id };
      const a = await oauthFlow(service.url);
      expectStatus(a, 200);
      return (a.body as { token: string }).token;
    };
    const octocat = await tokenFor("octocat", 583231);
    const hubot = await tokenFor("hubot", 480938);

    const me = await call(server.url, "/rpc/me", { headers: bearer(octocat) });
    expectStatus(me, 200);
    assert.deepEqual(me.body, { role: "github_user", login: "octocat" });

    expectStatus(
      await call(server.url, "/notes", {
        headers: bearer(octocat),
        body: { body: "written through pgrest" },
      }),
      201,
    );
    const notes = async (token: string) => {
      const a = await call(server.url, "/notes?select=owner,body&order=id", {
        headers: bearer(token),
      });
      expectStatus(a, 200);
      return a.body;
    };
    assert.deepEqual(await notes(octocat), [
      { owner: "octocat", body: "seeded for octocat" },
      { owner: "octocat", body: "written through pgrest" },
    ]);
    assert.deepEqual(await notes(hubot), [
      { owner: "hubot", body: "seeded for hubot" },
    ]);

    // anonymous requests and tokens signed with another secret get nothing
    expectStatus(await call(server.url, "/notes"), 401);
    const forged = await new jose.SignJWT({ role: "github_user" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("octocat")
      .sign(new TextEncoder().encode("x".repeat(40)));
    expectStatus(
      await call(server.url, "/notes", { headers: bearer(forged) }),
      401,
    );

    const status = await server.stop();
    assert.equal(status.code, 0, server.output());
  },
});
