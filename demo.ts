/**
 * The embedded demo (`deno task demo`): pgrest on PGlite, an in-process
 * PostgreSQL, with a sample blog schema that shows roles, grants, row-level
 * security and a login function returning a signed JWT. Prints the URL,
 * sample `curl` lines and a ready-made author JWT; stops on Ctrl-C.
 *
 * `deno run -A demo.ts [--port N] [--demo-data DIR]`; see src/demo/.
 *
 * @module
 */

import { runDemo } from "./src/demo/demo.ts";

if (import.meta.main) {
  Deno.exit(await runDemo(Deno.args));
}
