/**
 * Owns the demo's command line: `[--port N] [--demo-data DIR] [--help]`,
 * parsed by {@linkcode parseDemoArgs} (pure), and {@linkcode DEMO_USAGE}.
 *
 * @module
 */

/** What `demo.ts` was asked to do. */
export type DemoArgs =
  | { readonly help: true }
  | {
    readonly help: false;
    /** pgrest's HTTP port; 0 picks a free one. */
    readonly port: number;
    /** Where PGlite persists the database; null keeps it in memory. */
    readonly dataDir: string | null;
  };

/** The demo's help text. */
export const DEMO_USAGE = `Usage: deno task demo [--port N] [--demo-data DIR]

Runs pgrest on an embedded PostgreSQL (PGlite) with a sample blog schema.

Options:
  -p, --port N          pgrest's HTTP port on 127.0.0.1 (default 3000; 0: a free port)
      --demo-data DIR   keep the database in DIR (default: in memory, lost on exit)
  -h, --help            print this help and exit

Stop it with Ctrl-C (SIGINT) or SIGTERM.`;

/** The default HTTP port, as pgrest's. */
export const DEFAULT_DEMO_PORT = 3000;

/** A command-line mistake. */
export class DemoArgsError extends Error {
  override name = "DemoArgsError";
}

/** Parses the demo's arguments. */
export function parseDemoArgs(args: readonly string[]): DemoArgs {
  let port = DEFAULT_DEMO_PORT;
  let dataDir: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const value = (): string => {
      if (eq !== -1) return arg.slice(eq + 1);
      const next = args[i + 1];
      if (next === undefined) {
        throw new DemoArgsError(`${name} needs a value`);
      }
      i++;
      return next;
    };
    switch (name) {
      case "-h":
      case "--help":
        return { help: true };
      case "-p":
      case "--port": {
        const text = value();
        const n = Number(text);
        if (!/^\d+$/.test(text) || n > 65535) {
          throw new DemoArgsError(
            `--port: expected a port number (0-65535), got ${
              JSON.stringify(text)
            }`,
          );
        }
        port = n;
        break;
      }
      case "--demo-data": {
        const dir = value();
        if (dir === "") throw new DemoArgsError("--demo-data: empty directory");
        dataDir = dir;
        break;
      }
      default:
        throw new DemoArgsError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return { help: false, port, dataDir };
}
