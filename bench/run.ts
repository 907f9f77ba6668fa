/**
 * Benchmark entry point (`deno task bench`); the suite lands in a later commit.
 *
 * @module
 */
if (import.meta.main) Deno.exit(0);
