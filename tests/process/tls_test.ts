/**
 * Process tests for HTTPS (`server-tls-cert`/`server-tls-key`, issue
 * "Operations"): main.ts with a self-signed certificate made by the openssl
 * CLI answers over TLS with HTTP/2 (a Deno client that allows only HTTP/2,
 * and `curl --http2`, which reports the protocol version), still speaks
 * HTTP/1.1 over TLS to clients that ask for it, and does not answer plain
 * HTTP.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`), openssl and curl.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FIXTURE_ENV, startServer } from "../harness/server.ts";
import { json, request, tryRequest, uri } from "./util.ts";

/** Runs a command; returns its stdout, or throws with its stderr. */
async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${text(out.stderr)}`);
  }
  return text(out.stdout);
}

async function have(cmd: string): Promise<boolean> {
  try {
    await run(cmd, ["--version"]);
    return true;
  } catch {
    try {
      await run(cmd, ["version"]);
      return true;
    } catch {
      return false;
    }
  }
}

const tools = uri !== undefined && await have("openssl") && await have("curl");

Deno.test({
  name: "tls: HTTPS with HTTP/2 (and HTTP/1.1) using a self-signed cert",
  ignore: !tools,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pgrest-tls-" });
    try {
      const cert = `${dir}/cert.pem`;
      const key = `${dir}/key.pem`;
      // a leaf certificate (CA:FALSE) for localhost and 127.0.0.1: rustls
      // rejects a CA certificate as the server's and needs the SAN
      await run("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-days",
        "1",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-keyout",
        key,
        "-out",
        cert,
      ]);
      const caCerts = [await Deno.readTextFile(cert)];
      using client = Deno.createHttpClient({ caCerts });
      using h2only = Deno.createHttpClient({
        caCerts,
        http1: false,
        http2: true,
      });
      await using server = await startServer({
        env: {
          ...FIXTURE_ENV,
          PGRST_SERVER_TLS_CERT: cert,
          PGRST_SERVER_TLS_KEY: key,
        },
        scheme: "https",
        client,
      });
      assert.ok(server.url.startsWith("https://"));

      // a client that allows only HTTP/2
      const a = await request(`${server.url}/items?select=id`, {
        client: h2only,
      });
      assert.equal(a.status, 200, a.text);
      assert.equal(json<unknown[]>(a).length, 20);

      // curl reports the negotiated version
      const curl = (version: string) =>
        run("curl", [
          "-sS",
          version,
          "--cacert",
          cert,
          "-o",
          "/dev/null",
          "-w",
          "%{http_version} %{http_code}",
          "--max-time",
          "10",
          `${server.url}/items?id=eq.1`,
        ]);
      assert.equal(await curl("--http2"), "2 200");
      assert.equal(await curl("--http1.1"), "1.1 200");

      // no plain HTTP on the TLS port
      const plain = await tryRequest(
        `http://127.0.0.1:${server.port}/items`,
        {},
        3_000,
      );
      assert.notEqual(plain.status, 200, plain.text);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
