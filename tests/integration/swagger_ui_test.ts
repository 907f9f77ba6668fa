/**
 * The OpenAPI 3.1 document rendered by a real client: Swagger UI (npm
 * swagger-ui-dist) loads the document pgrest serves for the fixture database
 * inside headless Chromium, and the rendered DOM must list the operations.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`) and a `chromium` binary
 * (Debian's package; `.ci/run` installs it). Set PGRST_TEST_CHROMIUM to use
 * another binary.
 *
 * @module
 */

import assert from "node:assert/strict";
import swaggerUi from "swagger-ui-dist";
import { type Config, DEFAULT_CONFIG } from "../../src/config/types.ts";
import { makeHandler, startApp } from "../../src/server.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");

function chromiumPath(): string | null {
  const given = Deno.env.get("PGRST_TEST_CHROMIUM");
  if (given !== undefined) return given;
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not installed here
    }
  }
  return null;
}

const chromium = chromiumPath();

const CONFIG: Config = {
  ...DEFAULT_CONFIG,
  dbUri: uri ?? "",
  dbSchemas: ["api"],
  dbAnonRole: "web_anon",
  dbPool: 2,
};

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="/ui/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/ui/swagger-ui-bundle.js"></script>
<script>
  SwaggerUIBundle({ url: "/api", dom_id: "#ui" });
</script></body></html>`;

Deno.test({
  name:
    "Swagger UI in headless Chromium renders the operations of the OpenAPI 3.1 document",
  ignore: uri === undefined || chromium === null,
  async fn() {
    const app = await startApp(CONFIG);
    const handle = makeHandler(app.state);
    const uiDir: string = swaggerUi.getAbsoluteFSPath();
    let served31 = false;
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/") {
          return new Response(PAGE, {
            headers: { "content-type": "text/html" },
          });
        }
        if (path.startsWith("/ui/")) {
          const name = path.slice(4);
          if (!/^[a-z-]+\.(js|css)$/.test(name)) {
            return new Response(null, { status: 404 });
          }
          const type = name.endsWith(".js") ? "text/javascript" : "text/css";
          return new Response(await Deno.readFile(`${uiDir}/${name}`), {
            headers: { "content-type": type },
          });
        }
        if (path === "/api") {
          served31 = true;
          return await handle(
            new Request("http://localhost/", {
              headers: { Accept: "application/openapi+json;version=3.1" },
            }),
          );
        }
        return new Response(null, { status: 404 });
      },
    );
    const profile = await Deno.makeTempDir();
    try {
      const out = await new Deno.Command(chromium ?? "chromium", {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-dev-shm-usage",
          `--user-data-dir=${profile}`,
          "--virtual-time-budget=15000",
          "--dump-dom",
          `http://127.0.0.1:${server.addr.port}/`,
        ],
        stdout: "piped",
        stderr: "null",
      }).output();
      const dom = new TextDecoder().decode(out.stdout);
      assert.ok(served31, "the page fetched the 3.1 document");
      assert.match(dom, /OAS 3\.1/, "Swagger UI recognised OpenAPI 3.1");
      for (const op of ["/items", "/authors", "/books"]) {
        assert.ok(
          dom.includes(`data-path="${op}"`),
          `operation ${op} rendered`,
        );
      }
      assert.match(dom, /opblock-get/);
    } finally {
      await server.shutdown();
      await app.close();
      await Deno.remove(profile, { recursive: true });
    }
  },
});
