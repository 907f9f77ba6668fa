/**
 * Tests of the Prometheus exposition.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Metrics } from "./metrics.ts";

Deno.test("Metrics.render() exposes requests by status, pool and cache figures", () => {
  const m = new Metrics();
  m.countRequest(200);
  m.countRequest(200);
  m.countRequest(404);
  m.poolMax = 10;
  m.poolInUse = 3;
  m.jwtCacheHits = 7;
  const text = m.render();
  assert.match(text, /^pgrst_requests_total\{status="200"\} 2$/m);
  assert.match(text, /^pgrst_requests_total\{status="404"\} 1$/m);
  assert.match(text, /^pgrst_db_pool_max 10$/m);
  assert.match(text, /^pgrst_db_pool_available 7$/m);
  assert.match(text, /^pgrst_jwt_cache_hits_total 7$/m);
  assert.match(text, /^# TYPE pgrst_requests_total counter$/m);
});
