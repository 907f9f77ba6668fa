/**
 * Tests for media types: the base of a media type, how a request body is
 * read by its Content-Type, and the Accept header's order of preference.
 *
 * @module
 */

import assert from "node:assert/strict";
import { bodyMedia, mediaTypeBase, parseAccept } from "./media_type.ts";

Deno.test("the base of a media type drops its parameters, spaces and case", () => {
  assert.equal(mediaTypeBase(" Text/CSV ; charset=utf-8"), "text/csv");
  assert.equal(mediaTypeBase("application/json"), "application/json");
  assert.equal(
    mediaTypeBase('application/vnd.pgrst.plan+json; for="text/csv"'),
    "application/vnd.pgrst.plan+json",
  );
  assert.equal(mediaTypeBase(""), "");
});

Deno.test("a body is read as JSON for application/json, pgrst object and array types and an empty Content-Type", () => {
  for (
    const ct of [
      "application/json",
      "APPLICATION/JSON; charset=utf-8",
      "application/vnd.pgrst.object+json",
      "application/vnd.pgrst.array+json",
      "",
    ]
  ) {
    assert.equal(bodyMedia(ct), "json", ct);
  }
});

Deno.test("a body is read as CSV, a form, or one raw text, xml or bytea value by its media type", () => {
  assert.equal(bodyMedia("text/csv; header=present"), "csv");
  assert.equal(bodyMedia("application/x-www-form-urlencoded"), "form");
  assert.equal(bodyMedia("text/plain; charset=utf-8"), "text");
  assert.equal(bodyMedia("text/xml"), "xml");
  assert.equal(bodyMedia("application/octet-stream"), "bytea");
});

Deno.test("a body of any other media type is not read", () => {
  assert.equal(bodyMedia("foo/bar"), null);
  assert.equal(bodyMedia("multipart/form-data; boundary=x"), null);
  assert.equal(bodyMedia("*/*"), null);
});

Deno.test("Accept entries are ordered by q-value, then by order, with the base in lower case and parameters kept", () => {
  assert.deepEqual(
    parseAccept("text/csv;q=0.5, Application/JSON ;nulls = stripped, */*;q=0"),
    ["application/json;nulls=stripped", "text/csv"],
  );
  assert.deepEqual(parseAccept(null), ["*/*"]);
  assert.deepEqual(parseAccept("  "), ["*/*"]);
});
