/**
 * The injection fuzzer over real HTTP: a smaller sample of generated hostile
 * requests (`PGRST_FUZZ_HTTP_REQUESTS`, default 2,000; seed
 * `PGRST_FUZZ_SEED` + 1) sent with `fetch` to `main.ts` started as a child
 * process (tests/harness/server.ts), so that what the in-process run
 * (fuzz_test.ts) proves also holds through Deno's HTTP server: the same
 * verdict per answer (fuzz_check.ts), and no "internal error" in the
 * server's log.
 *
 * Needs PGRST_TEST_DB_URI (set by `deno task test`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { startServer } from "../harness/server.ts";
import { type Outcome, runFuzz } from "./fuzz_check.ts";
import {
  FUZZ_JWT_SECRET,
  type FuzzRequest,
  generate,
  makeTokens,
  Rng,
  toRequest,
} from "./fuzz_gen.ts";

const uri = Deno.env.get("PGRST_TEST_DB_URI");
const SEED = (Number(Deno.env.get("PGRST_FUZZ_SEED") ?? "20261127") + 1) >>>
  0;
const REQUESTS = Number(Deno.env.get("PGRST_FUZZ_HTTP_REQUESTS") ?? "2000");

Deno.test({
  name:
    "over HTTP, hostile requests never give a 5xx, an SQL parse error, a secret or an internal error",
  ignore: uri === undefined,
  fn: async () => {
    await using server = await startServer({
      env: {
        PGRST_DB_SCHEMAS: "fuzz,fuzz_b",
        PGRST_DB_ANON_ROLE: "web_anon",
        PGRST_JWT_SECRET: FUZZ_JWT_SECRET,
        PGRST_DB_TX_END: "rollback",
        PGRST_DB_AGGREGATES_ENABLED: "true",
        PGRST_DB_PLAN_ENABLED: "true",
        PGRST_DB_MAX_ROWS: "50",
        PGRST_DB_POOL: "4",
        PGRST_DB_CHANNEL_ENABLED: "false",
        PGRST_DB_PRE_REQUEST: "fuzz.pre_request",
        PGRST_LOG_LEVEL: "error",
      },
    });
    const tokens = await makeTokens();
    const rng = new Rng(SEED);
    const requests = Array.from(
      { length: REQUESTS },
      () => generate(rng, tokens),
    );
    const send = async (req: FuzzRequest): Promise<Outcome> => {
      const res = await fetch(toRequest(req, server.url));
      return {
        status: res.status,
        body: await res.text(),
        contentType: res.headers.get("content-type"),
      };
    };
    const run = await runFuzz(requests, send, {
      concurrency: 8,
      timeoutMs: 15_000,
    });
    // deno-lint-ignore no-console
    console.log(`fuzz over HTTP: seed ${SEED}, ${run.summary}`);
    assert.equal(
      run.failures.length,
      0,
      `PGRST_FUZZ_SEED=${SEED - 1} PGRST_FUZZ_HTTP_REQUESTS=${REQUESTS}: ` +
        `${run.failures.length}+ failing requests\n${run.failures.join("\n")}`,
    );
    const log = server.output();
    assert.ok(!log.includes("internal error"), log.slice(-4000));
  },
});
