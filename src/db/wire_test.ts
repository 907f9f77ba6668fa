/**
 * Unit tests of the request connections' pure parts: message encoding and
 * splitting, bind values, SCRAM-SHA-256 (RFC 7677's example exchange) and
 * MD5 answers, connection URIs, and which statements a transaction sends.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseConnectOptions } from "./connect_options.ts";
import { arrayLiteral } from "../query/sql.ts";
import { transactionSteps } from "./pool.ts";
import { md5Password, scramClient } from "./scram.ts";
import {
  MessageReader,
  MessageWriter,
  paramText,
  readDataRow,
  readErrorFields,
  readRowDescription,
} from "./wire_protocol.ts";

const enc = new TextEncoder();

function message(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

Deno.test("MessageWriter: Parse/Bind/Execute/Sync have the protocol's framing", () => {
  const b = new MessageWriter().parse("s1", "select $1").bind("s1", [
    "x",
    null,
  ]).execute().sync().bytes();
  // Parse: 'P', len, "s1\0", "select $1\0", int16 0
  assert.equal(String.fromCharCode(b[0]!), "P");
  const parseLen = new DataView(b.buffer).getInt32(1);
  assert.equal(parseLen, 4 + 3 + 10 + 2);
  const bindAt = 1 + parseLen;
  assert.equal(String.fromCharCode(b[bindAt]!), "B");
  const bindLen = new DataView(b.buffer).getInt32(bindAt + 1);
  // portal "\0", "s1\0", 0 formats, 2 params: len 1 "x", -1; 0 result formats
  assert.equal(bindLen, 4 + 1 + 3 + 2 + 2 + (4 + 1) + 4 + 2);
  const nullAt = bindAt + 1 + 4 + 1 + 3 + 2 + 2 + 5;
  assert.equal(new DataView(b.buffer).getInt32(nullAt), -1);
  // Sync is the last 5 bytes
  assert.deepEqual([...b.slice(-5)], [0x53, 0, 0, 0, 4]);
});

Deno.test("MessageWriter: a multi-byte bind value carries its byte length", () => {
  const b = new MessageWriter().bind("", ["é€"]).bytes();
  const v = new DataView(b.buffer);
  // 'B' len "\0" "\0" i16 0 i16 1, then the value's length
  assert.equal(v.getInt32(1 + 4 + 1 + 1 + 2 + 2), 5);
});

Deno.test("MessageWriter: a large bind value of ASCII then multi-byte text is encoded whole", () => {
  // the buffer is first sized for one byte per character; the rest of the
  // value is encoded after it grows
  const value = "a".repeat(5000) + "é😀€".repeat(3000) + "z";
  const b = new MessageWriter().bind("", [value, "x"]).bytes();
  const v = new DataView(b.buffer);
  const at = 1 + 4 + 1 + 1 + 2 + 2;
  const len = v.getInt32(at);
  const expected = new TextEncoder().encode(value);
  assert.equal(len, expected.length);
  assert.deepEqual(b.subarray(at + 4, at + 4 + len), expected);
  // the next parameter follows it
  assert.equal(v.getInt32(at + 4 + len), 1);
  assert.equal(b[at + 8 + len], "x".charCodeAt(0));
});

Deno.test("MessageWriter: names and values of every kind encode as TextEncoder does, also when reset and reused", () => {
  const values = [
    "",
    "plain",
    "é",
    "ab€cd", // ASCII, then multi-byte in the middle
    "x".repeat(256) + "é", // past the ASCII loop's length
    "y".repeat(300),
    "😀".repeat(10),
  ];
  const reused = new MessageWriter();
  for (const v of values) {
    const fresh = new MessageWriter().parse(v, v).bind(v, [v]).bytes();
    // a reused writer that held something longer before
    reused.reset().bind("", ["z".repeat(2000)]);
    const again = reused.reset().parse(v, v).bind(v, [v]).bytes();
    assert.deepEqual(again, fresh, JSON.stringify(v));
    const b = enc.encode(v);
    // Parse: 'P', length, name\0, text\0, int16 0
    assert.deepEqual(fresh.subarray(5, 5 + b.length), b);
    assert.equal(fresh[5 + b.length], 0);
    assert.equal(
      new DataView(fresh.buffer).getInt32(1),
      4 + 2 * (b.length + 1) + 2,
    );
  }
});

Deno.test("MessageReader: splits messages across chunk boundaries", () => {
  const a = message("C", enc.encode("SELECT 1\0"));
  const z = message("Z", enc.encode("I"));
  const all = new Uint8Array([...a, ...z]);
  const r = new MessageReader();
  r.push(all.subarray(0, 3));
  assert.equal(r.next(), null);
  r.push(all.subarray(3, a.length + 2));
  const first = r.next();
  assert.equal(first?.type, 0x43);
  assert.equal(new TextDecoder().decode(first?.body), "SELECT 1\0");
  assert.equal(r.next(), null);
  r.push(all.subarray(a.length + 2));
  assert.equal(r.next()?.type, 0x5a);
  assert.equal(r.next(), null);
});

Deno.test("readRowDescription and readDataRow: text columns, NULLs, bool and int4 decoded", () => {
  const desc: number[] = [0, 3];
  for (const [name, type] of [["body", 25], ["ok", 16], ["n", 23]] as const) {
    desc.push(...enc.encode(name), 0, 0, 0, 0, 0, 0, 0);
    desc.push(
      (type >> 24) & 255,
      (type >> 16) & 255,
      (type >> 8) & 255,
      type & 255,
    );
    desc.push(0, 0, 0, 0, 0, 0, 0, 0);
  }
  const cols = readRowDescription(new Uint8Array(desc));
  assert.deepEqual(cols, [
    { name: "body", type: 25 },
    { name: "ok", type: 16 },
    { name: "n", type: 23 },
  ]);
  const row = [0, 3, 0, 0, 0, 2, ...enc.encode("hi"), 255, 255, 255, 255];
  row.push(0, 0, 0, 2, ...enc.encode("42"));
  assert.deepEqual(readDataRow(new Uint8Array(row), cols), {
    body: "hi",
    ok: null,
    n: 42,
  });
});

Deno.test("readDataRow: short and long values, ASCII or not, decode as UTF-8", () => {
  const cols = [{ name: "v", type: 25 }];
  for (
    const v of [
      "",
      "a",
      "é",
      "ab€",
      "q".repeat(64),
      "q".repeat(63) + "é",
      "r".repeat(500),
      "€".repeat(40),
    ]
  ) {
    const b = enc.encode(v);
    const row = new Uint8Array([
      0,
      1,
      ...[24, 16, 8, 0].map((s) => (b.length >> s) & 255),
      ...b,
    ]);
    assert.deepEqual(readDataRow(row, cols), { v }, JSON.stringify(v));
  }
});

Deno.test("readErrorFields: code, message, detail and hint", () => {
  const body = enc.encode(
    "SERROR\0VERROR\0C42501\0Mpermission denied\0Dd\0Hh\0\0",
  );
  assert.deepEqual(readErrorFields(body), {
    severity: "ERROR",
    code: "42501",
    message: "permission denied",
    detail: "d",
    hint: "h",
  });
});

Deno.test("paramText: values as PostgreSQL parses them; arrays as array literals", () => {
  assert.equal(paramText("a'b"), "a'b");
  assert.equal(paramText(null), null);
  assert.equal(paramText(undefined), null);
  assert.equal(paramText(12), "12");
  assert.equal(paramText(true), "t");
  assert.equal(paramText(new Uint8Array([0, 255])), "\\x00ff");
  assert.equal(paramText({ a: 1 }), '{"a":1}');
  assert.equal(
    arrayLiteral(["api", 'q"x', "b\\s", null]),
    '{"api","q\\"x","b\\\\s",NULL}',
  );
});

Deno.test("scramClient: RFC 7677's SCRAM-SHA-256 example exchange", () => {
  const c = scramClient("pencil", {
    user: "user",
    nonce: "rOprNGfwEbeRWgbNEkqO",
  });
  assert.equal(c.first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  const final = c.final(
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  );
  assert.equal(
    final,
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  );
  c.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  assert.throws(() => c.verify("v=AAAA"), /signature/);
});

Deno.test("scramClient: a server nonce that does not extend ours is refused", () => {
  const c = scramClient("pw", { nonce: "abc" });
  assert.throws(() => c.final("r=xyz,s=AAAA,i=4096"), /server-first/);
});

Deno.test("md5Password: md5(md5(password + user) + salt)", () => {
  assert.equal(
    md5Password("postgres", "secret", new Uint8Array([1, 2, 3, 4])),
    "md5bb41a296aab6baccb36ff243a562abff",
  );
});

const D = { applicationName: "pgrest", connectTimeoutSeconds: 10 };

Deno.test("parseConnectOptions: TCP URL with password, port, database and startup parameters", () => {
  const o = parseConnectOptions(
    "postgres://auth%40x:p%40ss@db.example:6543/app?sslmode=require&options=-c%20search_path%3Dapi",
    D,
  );
  assert.equal(o.host, "db.example");
  assert.equal(o.port, 6543);
  assert.equal(o.socketPath, null);
  assert.equal(o.user, "auth@x");
  assert.equal(o.password, "p@ss");
  assert.equal(o.database, "app");
  assert.equal(o.sslMode, "require");
  assert.deepEqual(o.startup, {
    application_name: "pgrest",
    options: "-c search_path=api",
  });
});

Deno.test("parseConnectOptions: a percent-encoded directory is a unix socket", () => {
  const o = parseConnectOptions(
    "postgres://me@%2Fvar%2Frun%2Fpostgresql:5433/db",
    D,
  );
  assert.equal(o.host, null);
  assert.equal(o.socketPath, "/var/run/postgresql/.s.PGSQL.5433");
  const q = parseConnectOptions(
    "postgres://me@localhost/db?host=/tmp/sock",
    D,
  );
  assert.equal(q.socketPath, "/tmp/sock/.s.PGSQL.5432");
});

Deno.test("parseConnectOptions: sslmode defaults to prefer, as libpq", () => {
  assert.equal(parseConnectOptions("postgres://h/db", D).sslMode, "prefer");
  assert.equal(
    parseConnectOptions("postgres://h/db?sslmode=disable", D).sslMode,
    "disable",
  );
});

Deno.test("parseConnectOptions: several hosts and unknown sslmodes are refused", () => {
  assert.throws(() => parseConnectOptions("postgres://a,b/db", D), /several/);
  assert.throws(
    () => parseConnectOptions("postgres://h/db?sslmode=maybe", D),
    /sslmode/,
  );
});

Deno.test("transactionSteps: a committing read runs in the implicit transaction, read-only", () => {
  const st = { text: "select 1", params: [] };
  const t = transactionSteps({
    readOnly: true,
    statements: [st],
    end: "commit",
  });
  assert.deepEqual(t.steps.map((s) => s.text), [
    "SELECT set_config('transaction_read_only', 'on', true)",
    "select 1",
  ]);
  assert.equal(t.first, 1);
  const set = transactionSteps({
    readOnly: true,
    readOnlySet: true,
    statements: [st],
    end: "commit",
  });
  assert.deepEqual(set.steps.map((s) => s.text), ["select 1"]);
  assert.equal(set.first, 0);
  const w = transactionSteps({
    readOnly: false,
    statements: [st],
    end: "commit",
  });
  assert.deepEqual(w.steps.map((s) => s.text), ["select 1"]);
  assert.equal(w.first, 0);
});

Deno.test("transactionSteps: a rolled-back write is a BEGIN block that checks deferred constraints", () => {
  const st = { text: "insert", params: [] };
  const t = transactionSteps({
    readOnly: false,
    statements: [st],
    end: "rollback",
  });
  assert.deepEqual(t.steps.map((s) => s.text), [
    "BEGIN ISOLATION LEVEL READ COMMITTED",
    "insert",
    "SET CONSTRAINTS ALL IMMEDIATE",
    "ROLLBACK",
  ]);
  const f = transactionSteps({
    readOnly: true,
    statements: [st],
    end: () => "commit",
  });
  assert.deepEqual(f.steps.map((s) => s.text), [
    "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY",
    "insert",
  ]);
});

Deno.test("transactionSteps: another isolation level makes a BEGIN block that starts at it", () => {
  const st = { text: "select 1", params: [] };
  const read = transactionSteps({
    readOnly: true,
    readOnlySet: true,
    statements: [st],
    end: "commit",
    isolation: "serializable",
  });
  assert.deepEqual(read.steps.map((s) => s.text), [
    "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY",
    "select 1",
    "COMMIT",
  ]);
  assert.equal(read.first, 1);
  assert.equal(read.count, 1);
  const rolledBack = transactionSteps({
    readOnly: false,
    statements: [st],
    end: "rollback",
    isolation: "repeatable read",
  });
  assert.deepEqual(rolledBack.steps.map((s) => s.text), [
    "BEGIN ISOLATION LEVEL REPEATABLE READ",
    "select 1",
    "SET CONSTRAINTS ALL IMMEDIATE",
    "ROLLBACK",
  ]);
});
