/**
 * Owns logging: one line per observation on stderr, filtered by
 * `log-level` (crit < error < warn < info < debug). Never given tokens,
 * secrets or SQL parameters.
 *
 * @module
 */

import type { LogLevel } from "./config/types.ts";

const ORDER: readonly LogLevel[] = ["crit", "error", "warn", "info", "debug"];
const encoder = new TextEncoder();

/**
 * Writes `message` when `level` is within `threshold`; `always` writes it
 * regardless (start-up warnings).
 */
export function log(
  level: LogLevel,
  message: string,
  threshold: LogLevel = "error",
  always = false,
): void {
  if (!always && ORDER.indexOf(level) > ORDER.indexOf(threshold)) return;
  Deno.stderr.writeSync(
    encoder.encode(`${new Date().toISOString()} ${level}: ${message}\n`),
  );
}
