import assert from "node:assert/strict";
import { parseProxyUri, serverLocation } from "./location.ts";

Deno.test("parseProxyUri() reads scheme, host, port and path", () => {
  assert.deepEqual(parseProxyUri("https://postgrest.com/openapi.json"), {
    scheme: "https",
    host: "postgrest.com",
    port: 443,
    basePath: "/openapi.json",
  });
  assert.deepEqual(parseProxyUri("HTTP://example.org:8080"), {
    scheme: "http",
    host: "example.org",
    port: 8080,
    basePath: "/",
  });
  assert.deepEqual(parseProxyUri("http://example.org"), {
    scheme: "http",
    host: "example.org",
    port: 80,
    basePath: "/",
  });
});

Deno.test("parseProxyUri() rejects malformed URIs", () => {
  assert.equal(parseProxyUri("ftp://example.org/"), null);
  assert.equal(parseProxyUri("example.org/api"), null);
  assert.equal(parseProxyUri("http://example.org/?a=1"), null);
  assert.equal(parseProxyUri("http://user@example.org/"), null);
});

Deno.test("serverLocation() falls back to the server host and port", () => {
  const config = { openapiServerProxyUri: null, serverPort: 3000 };
  assert.deepEqual(serverLocation({ ...config, serverHost: "!4" }), {
    scheme: "http",
    host: "0.0.0.0",
    port: 3000,
    basePath: "/",
  });
  assert.equal(
    serverLocation({ ...config, serverHost: "localhost" }).host,
    "localhost",
  );
  assert.equal(
    serverLocation({
      ...config,
      serverHost: "*",
      openapiServerProxyUri: "not a uri",
    }).host,
    "0.0.0.0",
  );
});
