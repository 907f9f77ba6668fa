import assert from "node:assert/strict";
import {
  DEFAULT_ROLE_CLAIM_KEY,
  extractRole,
  parseRoleClaimKey,
} from "./role_claim_key.ts";

Deno.test("parseRoleClaimKey() parses keys, quoted keys and indexes", () => {
  assert.deepEqual(parseRoleClaimKey(".role"), DEFAULT_ROLE_CLAIM_KEY);
  assert.deepEqual(parseRoleClaimKey('.postgrest.roles[0]."a-b.c"'), [
    { kind: "key", key: "postgrest" },
    { kind: "key", key: "roles" },
    { kind: "index", index: 0 },
    { kind: "key", key: "a-b.c" },
  ]);
  assert.deepEqual(parseRoleClaimKey(".$_@x9.é"), [
    { kind: "key", key: "$_@x9" },
    { kind: "key", key: "é" },
  ]);
  assert.deepEqual(parseRoleClaimKey('.""'), [{ kind: "key", key: "" }]);
});

Deno.test("parseRoleClaimKey() parses slices", () => {
  assert.deepEqual(parseRoleClaimKey(".r[1:3]")[1], {
    kind: "slice",
    start: 1,
    end: 3,
  });
  assert.deepEqual(parseRoleClaimKey(".r[7:]")[1], {
    kind: "slice",
    start: 7,
    end: null,
  });
  assert.deepEqual(parseRoleClaimKey(".r[:-7]")[1], {
    kind: "slice",
    start: null,
    end: -7,
  });
  assert.deepEqual(parseRoleClaimKey(".r[:]")[1], {
    kind: "slice",
    start: null,
    end: null,
  });
});

Deno.test("parseRoleClaimKey() parses every filter operator", () => {
  const ops = ["==", "!=", "^==", "==^", "*=="] as const;
  for (const op of ops) {
    assert.deepEqual(parseRoleClaimKey(`.roles[?(@ ${op} "adm")]`), [
      { kind: "key", key: "roles" },
      { kind: "filter", op, value: "adm" },
    ]);
  }
  assert.deepEqual(parseRoleClaimKey('.r[?(@=="x")]')[1], {
    kind: "filter",
    op: "==",
    value: "x",
  });
  assert.equal(parseRoleClaimKey('.r[?(@ *== "_test_")][7:]').length, 3);
});

Deno.test("parseRoleClaimKey() rejects invalid keys naming jwt-role-claim-key", () => {
  const bad = [
    "",
    "role",
    ".",
    "..role",
    ".role.",
    ".roles[",
    ".roles[1",
    ".roles[x]",
    ".roles[-1]",
    ".roles[]",
    '.roles[?(@ = "x")]',
    '.roles[?(@ == "x")',
    '.roles[?(@ == "x)]',
    ".roles[?(@ == x)]",
    '.roles[?(@ == "x" )]',
    '."unterminated',
    ".role extra",
    ".role-name",
  ];
  for (const text of bad) {
    assert.throws(
      () => parseRoleClaimKey(text),
      (e: unknown) =>
        e instanceof Error && e.message.includes("jwt-role-claim-key"),
      text,
    );
  }
});

Deno.test("extractRole() follows keys, quoted keys and indexes", () => {
  const claims = {
    role: "web_user",
    "https://x.io/claims": { roles: ["a", "b"] },
    n: { m: [{ r: "deep" }] },
  };
  assert.equal(extractRole(claims, parseRoleClaimKey(".role")), "web_user");
  assert.equal(
    extractRole(claims, parseRoleClaimKey('."https://x.io/claims".roles[1]')),
    "b",
  );
  assert.equal(extractRole(claims, parseRoleClaimKey(".n.m[0].r")), "deep");
  assert.equal(extractRole(claims, parseRoleClaimKey(".n.m[1].r")), null);
  assert.equal(extractRole(claims, parseRoleClaimKey(".missing")), null);
  assert.equal(extractRole(claims, parseRoleClaimKey(".role[0]")), null);
});

Deno.test("extractRole() returns null for non-string values and inherited keys", () => {
  const claims = { role: 5, r: null, o: { a: 1 }, arr: ["x"] };
  assert.equal(extractRole(claims, parseRoleClaimKey(".role")), null);
  assert.equal(extractRole(claims, parseRoleClaimKey(".r")), null);
  assert.equal(extractRole(claims, parseRoleClaimKey(".o")), null);
  assert.equal(extractRole(claims, parseRoleClaimKey(".arr")), null);
  assert.equal(extractRole(claims, parseRoleClaimKey(".constructor")), null);
  assert.equal(extractRole(claims, parseRoleClaimKey(".toString")), null);
  assert.equal(extractRole(claims, parseRoleClaimKey(".arr.length")), null);
});

Deno.test("extractRole() filters take the first matching string", () => {
  const claims = { roles: [1, "user", "web_editor", "web_admin", "x_test_y"] };
  const role = (key: string) => extractRole(claims, parseRoleClaimKey(key));
  assert.equal(role('.roles[?(@ == "web_admin")]'), "web_admin");
  assert.equal(role('.roles[?(@ == "nobody")]'), null);
  assert.equal(role('.roles[?(@ != "user")]'), "web_editor");
  assert.equal(role('.roles[?(@ ^== "web_")]'), "web_editor");
  assert.equal(role('.roles[?(@ ==^ "_admin")]'), "web_admin");
  assert.equal(role('.roles[?(@ *== "_test_")]'), "x_test_y");
  assert.equal(role('.roles[?(@ *== "_test_")][2:]'), "test_y");
  assert.equal(
    extractRole({ roles: "user" }, parseRoleClaimKey('.roles[?(@ == "user")]')),
    null,
  );
});

Deno.test("extractRole() slices strings by code point with clamping", () => {
  const claims = { r: "pre_admin_suf", u: "ñañaña" };
  const role = (key: string) => extractRole(claims, parseRoleClaimKey(key));
  assert.equal(role(".r[4:]"), "admin_suf");
  assert.equal(role(".r[:-4]"), "pre_admin");
  assert.equal(role(".r[4:-4]"), "admin");
  assert.equal(role(".r[:]"), "pre_admin_suf");
  assert.equal(role(".r[-3:]"), "suf");
  assert.equal(role(".r[5:2]"), "");
  assert.equal(role(".r[-100:100]"), "pre_admin_suf");
  assert.equal(role(".u[1:3]"), "añ");
  assert.equal(
    extractRole({ r: ["a", "b"] }, parseRoleClaimKey(".r[0:1]")),
    null,
  );
});
