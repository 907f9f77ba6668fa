import assert from "node:assert/strict";
import { PgrstError } from "../error.ts";
import { negotiateRoot, planRoot } from "./plan.ts";

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof PgrstError) return `${e.status} ${e.code}`;
    throw e;
  }
  return "no error";
}

const FOLLOW = { dbRootSpec: null, openapiMode: "follow-privileges" } as const;

Deno.test("negotiateRoot() accepts openapi+json, json and */*", () => {
  const ct = "application/openapi+json; charset=utf-8";
  for (
    const accept of [["application/openapi+json"], ["application/json"], [
      "*/*",
    ]]
  ) {
    assert.deepEqual(negotiateRoot(accept, { rootSpec: false }), {
      version: "2.0",
      contentType: ct,
    });
  }
  assert.deepEqual(
    negotiateRoot(["text/csv", "application/json"], { rootSpec: false }),
    { version: "2.0", contentType: ct },
  );
  assert.equal(
    code(() => negotiateRoot(["text/csv"], { rootSpec: false })),
    "406 PGRST107",
  );
});

Deno.test("negotiateRoot() picks OpenAPI 3.1 by the version parameter", () => {
  for (const v of ["3.1", "3.1.0", '"3.1.1"']) {
    assert.deepEqual(
      negotiateRoot([`application/openapi+json;version=${v}`], {
        rootSpec: false,
      }),
      {
        version: "3.1",
        contentType: "application/openapi+json; version=3.1; charset=utf-8",
      },
    );
  }
  assert.equal(
    negotiateRoot(["application/openapi+json;version=2.0"], {
      rootSpec: false,
    }).version,
    "2.0",
  );
  // a version pgrest does not write is not acceptable
  assert.equal(
    code(() =>
      negotiateRoot(["application/openapi+json;version=3.0"], {
        rootSpec: false,
      })
    ),
    "406 PGRST107",
  );
});

Deno.test("negotiateRoot() keeps application/json for db-root-spec", () => {
  assert.equal(
    negotiateRoot(["application/json"], { rootSpec: true }).contentType,
    "application/json; charset=utf-8",
  );
  assert.equal(
    negotiateRoot(["application/openapi+json"], { rootSpec: true })
      .contentType,
    "application/openapi+json; charset=utf-8",
  );
});

Deno.test("planRoot() plans the document of the request's schema", () => {
  assert.deepEqual(
    planRoot({ method: "HEAD", accept: ["*/*"], schema: "v1" }, FOLLOW),
    {
      kind: "openapi",
      schema: "v1",
      followPrivileges: true,
      version: "2.0",
      contentType: "application/openapi+json; charset=utf-8",
      headOnly: true,
    },
  );
  const ignore = planRoot({ method: "GET", accept: ["*/*"], schema: "v1" }, {
    ...FOLLOW,
    openapiMode: "ignore-privileges",
  });
  assert.equal(ignore.kind === "openapi" && ignore.followPrivileges, false);
});

Deno.test("planRoot() answers 404 PGRST126 when disabled, after negotiation", () => {
  const disabled = { ...FOLLOW, openapiMode: "disabled" } as const;
  assert.equal(
    code(() =>
      planRoot({ method: "GET", accept: ["*/*"], schema: "v1" }, disabled)
    ),
    "404 PGRST126",
  );
  assert.equal(
    code(() =>
      planRoot({ method: "GET", accept: ["text/csv"], schema: "v1" }, disabled)
    ),
    "406 PGRST107",
  );
});

Deno.test("planRoot() rejects other methods with PGRST117", () => {
  assert.equal(
    code(() =>
      planRoot({ method: "POST", accept: ["*/*"], schema: "v1" }, FOLLOW)
    ),
    "405 PGRST117",
  );
});

Deno.test("planRoot() hands db-root-spec to the named function", () => {
  assert.deepEqual(
    planRoot({ method: "GET", accept: ["application/json"], schema: "v1" }, {
      dbRootSpec: "root",
      openapiMode: "disabled",
    }),
    {
      kind: "rootSpec",
      routine: "root",
      contentType: "application/json; charset=utf-8",
    },
  );
});
