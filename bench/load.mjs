/**
 * Fallback load generator for bench/run.ts when `wrk` is not installed: a
 * closed-loop HTTP/1.1 client on node:http with keep-alive connections.
 * Runs under Node or Deno.
 *
 *   node bench/load.mjs --url http://127.0.0.1:PORT --path TEMPLATE \
 *     --connections 10 --duration 5 [--seed 1] [--timeout 5000] \
 *     [--method POST --body-file FILE --header "Name: value" ...]
 *
 * Each of the `--connections` workers sends one request at a time on its own
 * keep-alive socket until `--duration` seconds have passed. `{int:LO:HI}` in
 * the path template, and in the body template read from `--body-file`,
 * becomes a pseudo-random integer in LO..HI per request.
 * Prints one line `BENCH_RESULT {json}` with the same fields as bench/wrk.lua
 * (latencies in microseconds).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import http from "node:http";
import process from "node:process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    path: { type: "string", default: "/" },
    connections: { type: "string", default: "10" },
    duration: { type: "string", default: "5" },
    seed: { type: "string", default: "1" },
    timeout: { type: "string", default: "5000" },
    method: { type: "string", default: "GET" },
    "body-file": { type: "string" },
    header: { type: "string", multiple: true, default: [] },
  },
});
if (values.url === undefined) throw new Error("--url is required");
const base = new URL(values.url);
const connections = Number(values.connections);
const durationMs = Number(values.duration) * 1000;
const timeoutMs = Number(values.timeout);

/** mulberry32: a small seeded generator, so that runs are repeatable. */
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits a template into literal strings and [lo, hi] ranges. */
function parse(template) {
  const parts = [];
  const re = /\{int:(\d+):(\d+)\}/g;
  let pos = 0;
  for (const m of template.matchAll(re)) {
    if (m.index > pos) parts.push(template.slice(pos, m.index));
    parts.push([Number(m[1]), Number(m[2])]);
    pos = m.index + m[0].length;
  }
  if (pos < template.length) parts.push(template.slice(pos));
  return parts;
}

function expand(parts, random) {
  let out = "";
  for (const p of parts) {
    out += typeof p === "string"
      ? p
      : String(p[0] + Math.floor(random() * (p[1] - p[0] + 1)));
  }
  return out;
}

const method = values.method;
const pathParts = parse(values.path);
const bodyParts = values["body-file"] === undefined
  ? null
  : parse(readFileSync(values["body-file"], "utf8"));
/** A body without {int:...} is encoded once. */
const fixedBody =
  bodyParts !== null && bodyParts.every((p) => typeof p === "string")
    ? Buffer.from(bodyParts.join(""))
    : null;
const headers = {};
for (const h of values.header) {
  const i = h.indexOf(":");
  if (i > 0) headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
}

function makeBody(random) {
  if (bodyParts === null) return null;
  return fixedBody ?? Buffer.from(expand(bodyParts, random));
}

const errors = { connect: 0, read: 0, write: 0, timeout: 0, status: 0 };
const latencies = [];
let bytes = 0;

function once(agent, path, body) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({
      host: base.hostname,
      port: base.port,
      path,
      method,
      headers: body === null
        ? headers
        : { ...headers, "Content-Length": String(body.length) },
      agent,
      timeout: timeoutMs,
    }, (res) => {
      res.on("data", (chunk) => (bytes += chunk.length));
      res.on("end", () => {
        latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
        if (res.statusCode === undefined || res.statusCode > 399) {
          errors.status++;
        }
        resolve(true);
      });
      res.on("error", () => {
        errors.read++;
        resolve(false);
      });
    });
    req.on("timeout", () => {
      errors.timeout++;
      req.destroy(new Error("timeout"));
    });
    req.on("error", (e) => {
      if (e.message !== "timeout") {
        if (e.code === "ECONNREFUSED") errors.connect++;
        else errors.write++;
      }
      resolve(false);
    });
    if (body === null) req.end();
    else req.end(body);
  });
}

async function worker(index, deadline) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const random = generator(Number(values.seed) * 7919 + index);
  while (performance.now() < deadline) {
    const ok = await once(
      agent,
      expand(pathParts, random),
      makeBody(random),
    );
    // Back off briefly after a failure instead of spinning.
    if (!ok) await new Promise((r) => setTimeout(r, 10));
  }
  agent.destroy();
}

const start = performance.now();
const deadline = start + durationMs;
await Promise.all(
  Array.from({ length: connections }, (_, i) => worker(i, deadline)),
);
const elapsedUs = (performance.now() - start) * 1000;

const sorted = Float64Array.from(latencies).sort();
const pct = (p) =>
  sorted.length === 0
    ? 0
    : sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)];
const mean = sorted.length === 0
  ? 0
  : sorted.reduce((a, b) => a + b, 0) / sorted.length;
const result = {
  requests: latencies.length,
  duration_us: Math.round(elapsedUs),
  bytes,
  p50_us: Math.round(pct(0.5)),
  p90_us: Math.round(pct(0.9)),
  p99_us: Math.round(pct(0.99)),
  max_us: Math.round(sorted.length === 0 ? 0 : sorted[sorted.length - 1]),
  mean_us: Math.round(mean * 10) / 10,
  errors,
};
process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
