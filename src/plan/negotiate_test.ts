/** Tests for media-type negotiation: GeoJSON and domain-typed (raw) function results. */
import assert from "node:assert/strict";
import { negotiate, negotiateDomain, negotiateHandler } from "./negotiate.ts";

const TEXT_SEND = ["pg_catalog", "textsend"] as const;
const BYTEA_SEND = ["pg_catalog", "byteasend"] as const;

Deno.test("negotiateDomain() ignores return types that are not media types", () => {
  assert.equal(negotiateDomain(["*/*"], "text", TEXT_SEND), null);
});

Deno.test("negotiateDomain() answers raw output for an exact Accept match", () => {
  const m = negotiateDomain(["text/html"], "text/html", TEXT_SEND);
  assert.equal(m?.kind, "raw");
  assert.equal(m?.contentType, "text/html");
  assert.deepEqual(m?.send, TEXT_SEND);
});

Deno.test("negotiateDomain() adds a charset to text/plain, text/xml and text/csv", () => {
  const m = negotiateDomain(["text/xml"], "text/xml", TEXT_SEND);
  assert.equal(m?.contentType, "text/xml; charset=utf-8");
});

Deno.test("negotiateDomain() accepts type wildcards and */*", () => {
  assert.equal(
    negotiateDomain(["image/*"], "image/png", BYTEA_SEND)?.contentType,
    "image/png",
  );
  assert.deepEqual(
    negotiateDomain(["*/*"], "image/png", BYTEA_SEND)?.send,
    BYTEA_SEND,
  );
});

Deno.test("negotiateDomain() returns null when the client wants something else", () => {
  assert.equal(
    negotiateDomain(["application/json"], "text/html", TEXT_SEND),
    null,
  );
});

Deno.test("negotiateDomain() of a */* domain answers application/octet-stream", () => {
  assert.equal(
    negotiateDomain(["application/json"], "*/*", BYTEA_SEND)?.contentType,
    "application/octet-stream",
  );
});

Deno.test("negotiate() offers application/geo+json for rows, not for scalars", () => {
  const m = negotiate(["application/geo+json"], "read");
  assert.equal(m.kind, "geojson");
  assert.equal(m.contentType, "application/geo+json; charset=utf-8");
  assert.throws(
    () => negotiate(["application/geo+json"], "scalar"),
    /None of these media types are available/,
  );
});

const TSV = {
  schema: "api",
  name: "tsv_agg",
  mediaType: "text/tab-separated-values",
  target: { schema: "api", name: "items" },
  send: TEXT_SEND,
} as const;
const ANY_TSV = { ...TSV, name: "any_tsv_agg", target: null };
const ITEMS = { schema: "api", name: "items" };

Deno.test("negotiateHandler() picks the table's aggregate for its media type", () => {
  const m = negotiateHandler(
    ["text/tab-separated-values"],
    [ANY_TSV, TSV],
    ITEMS,
    true,
  );
  assert.equal(m?.kind, "raw");
  assert.deepEqual(m?.handler, ["api", "tsv_agg"]);
  assert.equal(m?.contentType, "text/tab-separated-values");
});

Deno.test("negotiateHandler() uses an anyelement aggregate for other tables or a narrowed select", () => {
  const other = { schema: "api", name: "books" };
  assert.deepEqual(
    negotiateHandler(["text/tab-separated-values"], [TSV, ANY_TSV], other, true)
      ?.handler,
    ["api", "any_tsv_agg"],
  );
  assert.deepEqual(
    negotiateHandler(
      ["text/tab-separated-values"],
      [TSV, ANY_TSV],
      ITEMS,
      false,
    )
      ?.handler,
    ["api", "any_tsv_agg"],
  );
  assert.equal(
    negotiateHandler(["text/tab-separated-values"], [TSV], ITEMS, false),
    null,
  );
});

Deno.test("negotiateHandler() leaves earlier built-in types and vnd.pgrst types alone", () => {
  assert.equal(
    negotiateHandler(
      ["application/json", "text/tab-separated-values"],
      [TSV],
      ITEMS,
      true,
    ),
    null,
  );
  const obj = { ...TSV, mediaType: "application/vnd.pgrst.object+json" };
  assert.equal(
    negotiateHandler(["application/vnd.pgrst.object+json"], [obj], ITEMS, true),
    null,
  );
});

Deno.test("negotiateHandler() may override application/json for one table", () => {
  const ov = { ...TSV, mediaType: "application/json" };
  const m = negotiateHandler(["application/json"], [ov], ITEMS, true);
  assert.equal(m?.contentType, "application/json; charset=utf-8");
  assert.deepEqual(m?.handler, ["api", "tsv_agg"]);
});

Deno.test("negotiateHandler() explains a handler's statement for a plan media type", () => {
  const mt =
    'application/vnd.pgrst.plan+json; for="text/tab-separated-values"; options=verbose';
  const m = negotiateHandler([mt], [TSV], ITEMS, true, { planEnabled: true });
  assert.deepEqual(m?.handler, ["api", "tsv_agg"]);
  assert.deepEqual(m?.explain, { format: "json", options: ["verbose"] });
  assert.equal(
    m?.contentType,
    'application/vnd.pgrst.plan+json; for="text/tab-separated-values"; options=verbose; charset=utf-8',
  );
  assert.equal(
    negotiateHandler([mt], [TSV], ITEMS, true, { planEnabled: false }),
    null,
  );
});
