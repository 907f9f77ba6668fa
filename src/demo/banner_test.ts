import assert from "node:assert/strict";
import { demoBanner, shellQuote } from "./banner.ts";

Deno.test("shellQuote quotes single quotes", () => {
  assert.equal(shellQuote("a b"), "'a b'");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
});

Deno.test("demoBanner prints the URL, the curl lines and the token", () => {
  const text = demoBanner({
    url: "http://127.0.0.1:3000",
    account: { email: "a@example.com", pass: "pw", sub: "a" },
    token: "h.p.s",
    tokenExpires: new Date(0),
    dataDir: null,
  });
  assert.match(text, /running at http:\/\/127\.0\.0\.1:3000\n/);
  assert.match(text, /^ {2}curl 'http:\/\/127\.0\.0\.1:3000\/posts'$/m);
  assert.match(text, /^ {2}export TOKEN='h\.p\.s'$/m);
  assert.match(text, /"email":"a@example\.com","pass":"pw"/);
  assert.equal(text.match(/\$TOKEN/g)?.length, 2);
  assert.ok(text.endsWith("Stop with Ctrl-C.\n"));
});
