/**
 * Owns the allocation benchmark: the bytes of JavaScript heap pgrest
 * allocates per request, by allocation site, for the scenarios of
 * bench/hot_path_bench.ts (the real handler, a stub database answering at
 * once, the benchmark's schema cache). Garbage is what makes V8 scavenge:
 * fewer bytes per request, fewer collections under load.
 *
 * Per scenario: a warm-up, then `ALLOC_N` requests under V8's sampling heap
 * profiler (through `node:inspector`), counting objects that were already
 * collected too; it prints the sampled kilobytes per request and the top
 * allocation sites (a function and where it starts in the transpiled
 * module: names are exact, line numbers approximate). A built-in such as
 * `Map` or an iterator's `next` is shown with its caller. The share of
 * Deno's `Request` (deno_fetch, webidl) comes from building the benchmark's
 * requests, which the real server does differently.
 *
 * Run: `deno task bench:alloc` (`PGRST_HOT_BENCH_URI` as for bench:hot;
 * `HOT_ONLY` a scenario name, `ALLOC_N` requests, `ALLOC_TOP` sites).
 *
 * @module
 */

import { Session } from "node:inspector";
import {
  checkScenario,
  hotHandler,
  hotRequest,
  SCENARIOS,
} from "./hot_path_bench.ts";

/** A node of the sampling heap profile (the part read here). */
interface ProfileNode {
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly selfSize: number;
  readonly children?: readonly ProfileNode[];
}

function isProfileNode(v: unknown): v is ProfileNode {
  if (typeof v !== "object" || v === null) return false;
  const o = v as { callFrame?: unknown; selfSize?: unknown };
  return typeof o.selfSize === "number" && typeof o.callFrame === "object" &&
    o.callFrame !== null;
}

const session = new Session();
session.connect();

/** Sends an inspector command; its result. */
function post(
  method: string,
  params: Record<string, unknown> = {},
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    session.post(method, params, (err: Error | null, result?: unknown) => {
      if (err !== null && err !== undefined) reject(err);
      else resolve(result);
    });
  });
}

/** The profile's root node, from `HeapProfiler.stopSampling`'s result. */
function profileHead(result: unknown): ProfileNode {
  const head = (result as { profile?: { head?: unknown } } | undefined)
    ?.profile?.head;
  if (!isProfileNode(head)) throw new Error("no heap profile");
  return head;
}

/** A frame's label: function, module (relative to the repository), line. */
function label(node: ProfileNode, root: string): string {
  const f = node.callFrame;
  const url = f.url.startsWith(root) ? f.url.slice(root.length) : f.url;
  return `${f.functionName === "" ? "(anonymous)" : f.functionName} ${url}:${
    f.lineNumber + 1
  }`;
}

/** Bytes by allocation site; built-ins (no URL) named with their caller. */
function bySite(head: ProfileNode, root: string): Map<string, number> {
  const sites = new Map<string, number>();
  const walk = (node: ProfileNode, parent: string | null): void => {
    let key = label(node, root);
    if (node.callFrame.url === "" && parent !== null) {
      key = `${key} <- ${parent}`;
    }
    sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    for (const c of node.children ?? []) walk(c, key);
  };
  walk(head, null);
  return sites;
}

const encoder = new TextEncoder();
function say(line: string): void {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}

const N = Number(Deno.env.get("ALLOC_N") ?? 5000);
const TOP = Number(Deno.env.get("ALLOC_TOP") ?? 30);
const ONLY = Deno.env.get("HOT_ONLY");
const ROOT = new URL("../", import.meta.url).href;

const { handle, answer } = await hotHandler();
for (const s of SCENARIOS) {
  if (ONLY !== undefined && ONLY !== s.name) continue;
  answer(s.row);
  await checkScenario(handle, s);
  for (let i = 0; i < 3000; i++) {
    await (await handle(hotRequest(s, i))).arrayBuffer();
  }
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let i = 0; i < N; i++) {
    await (await handle(hotRequest(s, i))).arrayBuffer();
  }
  const head = profileHead(await post("HeapProfiler.stopSampling"));
  await post("HeapProfiler.disable");
  const sites = bySite(head, ROOT);
  let total = 0;
  for (const v of sites.values()) total += v;
  say(`${s.name}: ${(total / N / 1024).toFixed(1)} KB sampled per request`);
  const top = [...sites].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  for (const [site, bytes] of top) {
    say(`${(bytes / N).toFixed(0).padStart(7)} B  ${site}`);
  }
}
session.disconnect();
