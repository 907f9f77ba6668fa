import assert from "node:assert/strict";
import { DEFAULT_DEMO_PORT, DemoArgsError, parseDemoArgs } from "./args.ts";

Deno.test("parseDemoArgs: defaults, --port, --demo-data and --help", () => {
  assert.deepEqual(parseDemoArgs([]), {
    help: false,
    port: DEFAULT_DEMO_PORT,
    dataDir: null,
  });
  assert.deepEqual(parseDemoArgs(["--port", "0", "--demo-data", "db"]), {
    help: false,
    port: 0,
    dataDir: "db",
  });
  assert.deepEqual(parseDemoArgs(["-p", "8080", "--demo-data=./x"]), {
    help: false,
    port: 8080,
    dataDir: "./x",
  });
  assert.deepEqual(parseDemoArgs(["--port=1", "-h"]), { help: true });
});

Deno.test("parseDemoArgs: mistakes are DemoArgsErrors", () => {
  for (
    const args of [
      ["--port"],
      ["--port", "x"],
      ["--port", "70000"],
      ["--port", "-1"],
      ["--demo-data", ""],
      ["--verbose"],
    ]
  ) {
    assert.throws(() => parseDemoArgs(args), DemoArgsError, args.join(" "));
  }
});
