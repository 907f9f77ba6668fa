#!/usr/bin/env node
// ratchet.mjs - keep conformance cases that passed once passing.
//
//   node tests/conformance/ratchet.mjs REPORT.json [--passing FILE] [--update]
//
// REPORT.json is the report written by ../shared/conformance/run.mjs --json.
// FILE (default: passing.txt beside this script) lists case ids, one a line;
// blank lines and lines starting with '#' are ignored.  Ids are compared
// without trailing whitespace (a few upstream ids end in a space).
//
// Prints every listed id that did not pass (failed, skipped or missing from
// the report) and exits 1 if there is any; prints how many passing cases are
// not listed yet.  --update rewrites FILE with every passing id, sorted,
// keeping the leading comment block, and exits 0.
//
// Plain Node.js >= 20, no dependencies.

// deno-lint-ignore-file no-console

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));

function usage(msg) {
  if (msg) console.error(`ratchet.mjs: ${msg}`);
  console.error(
    "usage: node ratchet.mjs REPORT.json [--passing FILE] [--update]",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    passing: path.join(HERE, "passing.txt"),
    update: false,
    report: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--update") o.update = true;
    else if (a === "--passing") {
      if (i + 1 >= argv.length) usage("--passing needs a value");
      o.passing = argv[++i];
    } else if (a === "-h" || a === "--help") usage();
    else if (a.startsWith("-")) usage(`unknown argument ${a}`);
    else if (o.report === null) o.report = a;
    else usage(`unexpected argument ${a}`);
  }
  if (o.report === null) usage("REPORT.json is required");
  return o;
}

const key = (id) => id.trimEnd();

function readPassing(file) {
  if (!fs.existsSync(file)) return { header: [], ids: [] };
  const lines = fs.readFileSync(file, "utf8").split("\n").map((l) =>
    l.replace(/\r$/, "")
  );
  const header = [];
  let i = 0;
  for (; i < lines.length && lines[i].startsWith("#"); i++) {
    header.push(lines[i]);
  }
  const ids = lines.slice(i).filter((l) =>
    l.trim() !== "" && !l.trimStart().startsWith("#")
  ).map(key);
  return { header, ids };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  let report;
  try {
    report = JSON.parse(fs.readFileSync(opts.report, "utf8"));
  } catch (e) {
    console.error(
      `ratchet.mjs: cannot read report ${opts.report}: ${e.message}`,
    );
    process.exit(2);
  }
  if (!Array.isArray(report.cases)) {
    console.error(`ratchet.mjs: ${opts.report} has no "cases" array`);
    process.exit(2);
  }
  const results = new Map(report.cases.map((c) => [key(c.id), c]));
  const passed = [...results.values()].filter((c) => c.status === "pass").map(
    (c) => key(c.id),
  );
  const { header, ids: listed } = readPassing(opts.passing);
  const listedSet = new Set(listed);

  const regressions = [];
  for (const id of listedSet) {
    const r = results.get(id);
    if (!r) regressions.push(`NOT IN REPORT ${id}`);
    else if (r.status !== "pass") {
      regressions.push(
        `${r.status.toUpperCase()} ${id}${r.why ? ` — ${r.why}` : ""}`,
      );
    }
  }
  const fresh = passed.filter((id) => !listedSet.has(id));
  const relative = path.relative(process.cwd(), opts.passing);
  const rel = relative && !relative.startsWith("..")
    ? relative
    : path.resolve(opts.passing);

  for (const line of regressions) console.log(`ratchet: ${line}`);
  console.log(
    `ratchet: ${listedSet.size} listed in ${rel}, ${regressions.length} of them not passing; ` +
      `${passed.length} passing, ${fresh.length} not listed yet`,
  );

  if (opts.update) {
    const sorted = [...new Set(passed)].sort();
    const text = [...header, ...sorted].join("\n") + "\n";
    fs.writeFileSync(opts.passing, text);
    console.log(`ratchet: wrote ${sorted.length} ids to ${rel}`);
    return 0;
  }
  if (fresh.length > 0) {
    console.log(
      `ratchet: run with --update to list the ${fresh.length} new passing case(s)`,
    );
  }
  if (regressions.length > 0) {
    console.log(
      `ratchet: FAILED: ${regressions.length} listed case(s) no longer pass`,
    );
    return 1;
  }
  return 0;
}

process.exit(main());
