/**
 * Owns what the demo prints once pgrest answers: the URL, sample `curl`
 * lines (read anonymously, log in, write with a token, see one's drafts, a
 * refused anonymous write) and a ready-made author JWT. Pure: the
 * process test runs the printed lines, so they must stay plain
 * `curl [-X M] 'URL' [-H '…' | -H "…$TOKEN…"] [-d '…']` commands.
 *
 * @module
 */

import type { DemoAccount } from "./schema.ts";

/** What the banner shows. */
export interface BannerInput {
  /** pgrest's base URL, without a trailing slash. */
  readonly url: string;
  /** The account the sample commands use. */
  readonly account: DemoAccount;
  /** A signed JWT for that account's `author` role. */
  readonly token: string;
  /** When the token expires. */
  readonly tokenExpires: Date;
  /** The persisted data directory, or null when in memory. */
  readonly dataDir: string | null;
}

/** Quotes `text` for a POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The banner, ending with a newline. */
export function demoBanner(b: BannerInput): string {
  const q = shellQuote;
  const json = "-H 'Content-Type: application/json'";
  const bearer = `-H "Authorization: Bearer $TOKEN"`;
  const login = JSON.stringify({
    email: b.account.email,
    pass: b.account.pass,
  });
  const post = JSON.stringify({
    title: "Written with a token",
    body: "Hello from the pgrest demo",
    published: true,
  });
  const where = b.dataDir === null
    ? "PGlite in memory (lost on exit)"
    : `PGlite in ${b.dataDir}`;
  return [
    "",
    `pgrest demo is running at ${b.url}`,
    `  database: ${where}; schema api, table posts, function login`,
    "",
    "Read the published posts (anonymous):",
    `  curl ${q(`${b.url}/posts`)}`,
    "",
    `Log in as ${b.account.sub} (answers {"token": "..."}):`,
    `  curl -X POST ${q(`${b.url}/rpc/login`)} ${json} -d ${q(login)}`,
    "",
    `A ready-made JWT for ${b.account.sub} (role author, expires ${b.tokenExpires.toISOString()}):`,
    `  export TOKEN=${q(b.token)}`,
    "",
    "Create a post with the token:",
    `  curl -X POST ${
      q(`${b.url}/posts`)
    } ${bearer} ${json} -H 'Prefer: return=representation' -d ${q(post)}`,
    "",
    `Read as ${b.account.sub}: the published posts and ${b.account.sub}'s drafts:`,
    `  curl ${q(`${b.url}/posts`)} ${bearer}`,
    "",
    "Without a token, writing is refused (401):",
    `  curl -X POST ${q(`${b.url}/posts`)} ${json} -d ${
      q('{"title":"anonymous"}')
    }`,
    "",
    "Stop with Ctrl-C.",
    "",
  ].join("\n");
}
