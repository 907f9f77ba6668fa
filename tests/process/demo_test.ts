/**
 * Process test for the embedded demo: `deno run -A demo.ts --port N` must
 * print its banner (within 90 s: PGlite starts slowly on a loaded machine), and the `curl` lines it
 * prints, run here with fetch, must show the security model: anonymous
 * readers see only published posts, `rpc/login` answers a token, that token
 * (and the ready-made one) writes as the author and reads the author's
 * drafts, and an anonymous write gets 401. SIGTERM then stops the demo and
 * its pgrest with exit code 0.
 *
 * Needs no PostgreSQL: the demo brings PGlite.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { decodeJwt } from "jose";
import { freePort } from "../harness/free_port.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const READY_WITHIN_MS = 90_000;

/** One printed `curl` line as a fetch request. */
interface CurlRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly body: string | null;
}

/**
 * Splits a shell command line into words: '…' is literal, "…" expands
 * `$NAME` from `vars`, and a backslash outside quotes escapes one character.
 */
function shellWords(line: string, vars: Record<string, string>): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let i = 0;
  const expand = (s: string) =>
    s.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
      const value = vars[name];
      if (value === undefined) throw new Error(`unset variable $${name}`);
      return value;
    });
  while (i < line.length) {
    const c = line[i]!;
    if (c === " ") {
      if (word !== null) words.push(word);
      word = null;
      i++;
    } else if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end === -1) throw new Error(`unterminated ${c} in ${line}`);
      const inner = line.slice(i + 1, end);
      word = (word ?? "") + (c === '"' ? expand(inner) : inner);
      i = end + 1;
    } else if (c === "\\") {
      word = (word ?? "") + (line[i + 1] ?? "");
      i += 2;
    } else {
      const m = /^[^ '"\\]+/.exec(line.slice(i))![0];
      word = (word ?? "") + expand(m);
      i += m.length;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** Turns `curl [-X M] URL [-H H]… [-d D]` into a request. */
function parseCurl(line: string, vars: Record<string, string>): CurlRequest {
  const words = shellWords(line, vars);
  assert.equal(words[0], "curl", line);
  let method: string | null = null;
  let url: string | null = null;
  let body: string | null = null;
  const headers = new Headers();
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    const next = () => {
      const v = words[++i];
      if (v === undefined) throw new Error(`${w} needs a value: ${line}`);
      return v;
    };
    if (w === "-X") method = next();
    else if (w === "-H") {
      const h = next();
      const colon = h.indexOf(":");
      headers.append(h.slice(0, colon).trim(), h.slice(colon + 1).trim());
    } else if (w === "-d") body = next();
    else if (w.startsWith("-")) throw new Error(`unexpected ${w}: ${line}`);
    else url = w;
  }
  if (url === null) throw new Error(`no URL: ${line}`);
  return {
    method: method ?? (body === null ? "GET" : "POST"),
    url,
    headers,
    body,
  };
}

/** Runs a printed curl line; returns the status and the parsed JSON body. */
async function runCurl(
  line: string,
  vars: Record<string, string>,
): Promise<{ status: number; json: unknown }> {
  const req = parseCurl(line, vars);
  const res = await fetch(req.url, {
    method: req.method,
    headers: req.headers,
    body: req.body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? null : JSON.parse(text) };
}

/** Reads a stream to the end, decoding it into `sink.text`. */
async function drain(
  stream: ReadableStream<Uint8Array>,
  sink: { text: string },
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    sink.text += decoder.decode(chunk, { stream: true });
  }
  sink.text += decoder.decode();
}

interface Post {
  id: number;
  author: string;
  title: string;
  body: string;
  published: boolean;
}

function asPosts(json: unknown): Post[] {
  assert.ok(Array.isArray(json), JSON.stringify(json));
  return json as Post[];
}

Deno.test({
  name:
    "deno task demo: the printed curl lines work and show the security model",
  async fn() {
    const started = Date.now();
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "demo.ts", "--port", String(port)],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = { text: "" };
    const err = { text: "" };
    const reading = Promise.all([
      drain(child.stdout, out),
      drain(child.stderr, err),
    ]);
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    const context = () => `stdout:\n${out.text}\nstderr:\n${err.text}`;
    try {
      while (!out.text.includes("Stop with Ctrl-C.")) {
        assert.ok(!exited, `the demo exited early\n${context()}`);
        assert.ok(
          Date.now() - started < READY_WITHIN_MS,
          `no banner within ${READY_WITHIN_MS / 1000}s\n${context()}`,
        );
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(
        out.text.includes(`http://127.0.0.1:${port}`),
        `the URL is printed\n${context()}`,
      );
      const lines = out.text.split("\n").map((l) => l.trim());
      const curls = lines.filter((l) => l.startsWith("curl "));
      const find = (pred: (l: string) => boolean, what: string) => {
        const l = curls.find(pred);
        assert.ok(l !== undefined, `no curl line to ${what}\n${out.text}`);
        return l;
      };
      const readAnon = find(
        (l) => /\/posts'$/.test(l) && !l.includes("-X"),
        "read anonymously",
      );
      const login = find((l) => l.includes("/rpc/login"), "log in");
      const create = find(
        (l) => l.includes("-X POST") && l.includes("$TOKEN"),
        "create a post with the token",
      );
      const readOwn = find(
        (l) => !l.includes("-X") && l.includes("$TOKEN"),
        "read with the token",
      );
      const createAnon = find(
        (l) =>
          l.includes("-X POST") && l.includes("/posts") &&
          !l.includes("$TOKEN"),
        "create anonymously",
      );
      const exported = lines.find((l) => l.startsWith("export TOKEN="));
      assert.ok(exported !== undefined, `no ready-made token\n${out.text}`);
      const readyMade = shellWords(exported.slice("export ".length), {})[0]!
        .slice("TOKEN=".length);
      assert.deepEqual(
        { role: decodeJwt(readyMade).role, sub: decodeJwt(readyMade).sub },
        { role: "author", sub: "alice" },
      );

      // anonymous: the published posts only
      const anon = await runCurl(readAnon, {});
      assert.equal(anon.status, 200, JSON.stringify(anon.json));
      const anonPosts = asPosts(anon.json);
      assert.ok(anonPosts.length >= 2, JSON.stringify(anonPosts));
      assert.ok(anonPosts.every((p) => p.published), JSON.stringify(anonPosts));

      // login answers a signed token for alice
      const loggedIn = await runCurl(login, {});
      assert.equal(loggedIn.status, 200, JSON.stringify(loggedIn.json));
      const token = (loggedIn.json as { token?: unknown }).token;
      assert.equal(typeof token, "string", JSON.stringify(loggedIn.json));
      const claims = decodeJwt(token as string);
      assert.equal(claims.role, "author");
      assert.equal(claims.sub, "alice");

      // the login token creates a post owned by alice
      const created = await runCurl(create, { TOKEN: token as string });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const [post] = asPosts(created.json);
      assert.equal(post?.author, "alice", JSON.stringify(created.json));

      // the ready-made token reads alice's drafts and the new post, and no
      // one else's drafts
      const own = await runCurl(readOwn, { TOKEN: readyMade });
      assert.equal(own.status, 200, JSON.stringify(own.json));
      const ownPosts = asPosts(own.json);
      assert.ok(ownPosts.some((p) => p.id === post.id), JSON.stringify(own));
      assert.ok(
        ownPosts.some((p) => !p.published && p.author === "alice"),
        JSON.stringify(ownPosts),
      );
      assert.ok(
        ownPosts.every((p) => p.published || p.author === "alice"),
        JSON.stringify(ownPosts),
      );

      // anonymous again: the new published post, still no drafts
      const anonAgain = asPosts((await runCurl(readAnon, {})).json);
      assert.ok(anonAgain.some((p) => p.id === post.id));
      assert.ok(anonAgain.every((p) => p.published));

      // anonymous writes are refused
      const refused = await runCurl(createAnon, {});
      assert.equal(refused.status, 401, JSON.stringify(refused.json));
      assert.equal(
        (refused.json as { code?: unknown }).code,
        "42501",
        JSON.stringify(refused.json),
      );
    } finally {
      if (!exited) child.kill("SIGTERM");
      const kill = setTimeout(() => {
        if (!exited) child.kill("SIGKILL");
      }, 15_000);
      await status;
      clearTimeout(kill);
      await reading;
    }
    assert.equal((await status).code, 0, `the demo's exit code\n${context()}`);
    // pgrest was stopped with the demo
    await assert.rejects(
      fetch(`http://127.0.0.1:${port}/posts`, {
        signal: AbortSignal.timeout(2_000),
      }).then((r) => r.body?.cancel()),
    );
  },
});
