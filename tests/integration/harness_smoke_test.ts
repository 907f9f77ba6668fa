/**
 * Checks the test harness itself: the database from PGRST_TEST_DB_URI has the
 * fixtures loaded, the authenticator can switch to web_anon and web_user, and
 * row-level security on api.secrets follows the JWT `sub` claim.
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";

const uri = Deno.env.get("PGRST_TEST_DB_URI");

Deno.test({
  name: "harness: web_anon reads api.items but not api.secrets",
  ignore: uri === undefined,
  async fn() {
    const sql = postgres(uri!, { max: 1, onnotice: () => {} });
    try {
      const [me] = await sql`select current_user as who`;
      assert.equal(me?.who, "pgrest_authenticator");
      await sql.begin(async (tx) => {
        await tx`set local role web_anon`;
        const [row] = await tx`select count(*)::int as n from api.items`;
        assert.equal(row?.n, 20);
        const [cheap] =
          await tx`select count(*)::int as n from api.cheap_items`;
        assert.equal(cheap?.n, 9);
      });
      await assert.rejects(
        sql.begin(async (tx) => {
          await tx`set local role web_anon`;
          await tx`select * from api.secrets`;
        }),
        (e: unknown) => (e as { code?: string }).code === "42501",
      );
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "harness: api.secrets shows web_user only the rows of its sub claim",
  ignore: uri === undefined,
  async fn() {
    const sql = postgres(uri!, { max: 1, onnotice: () => {} });
    const visible = (sub: string | null) =>
      sql.begin(async (tx) => {
        await tx`select set_config('role', 'web_user', true)`;
        if (sub !== null) {
          await tx`select set_config('request.jwt.claims', ${
            JSON.stringify({ sub, role: "web_user" })
          }, true)`;
        }
        const rows = await tx`select id from api.secrets order by id`;
        return rows.map((r) => r.id as number);
      });
    try {
      assert.deepEqual(await visible("alice"), [1, 2]);
      assert.deepEqual(await visible("bob"), [3]);
      assert.deepEqual(await visible("mallory"), []);
      // After a transaction-local claim, the setting reads '' on this
      // connection; the policy must still work without one.
      assert.deepEqual(await visible(null), []);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "harness: fixtures keep unicode, quoted identifiers and api2",
  ignore: uri === undefined,
  async fn() {
    const sql = postgres(uri!, { max: 1, onnotice: () => {} });
    try {
      await sql`set role web_anon`;
      const [item] = await sql`select name, data->>'emoji' as emoji
        from api.items where id = 17`;
      assert.equal(item?.name, "crème brûlée torch — «édition spéciale» 🔥");
      assert.equal(item?.emoji, "🍮");
      const [sel] = await sql`select "from", "quote""d" as q
        from api."select" where id = 1`;
      assert.deepEqual({ ...sel }, { from: "here", q: 'a "quoted" value' });
      const [things] = await sql`select count(*)::int as n from api2.things`;
      assert.equal(things?.n, 3);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "harness: api.pre_request sets response.headers when x-pre is sent",
  ignore: uri === undefined,
  async fn() {
    const sql = postgres(uri!, { max: 1, onnotice: () => {} });
    try {
      const headers = await sql.begin(async (tx) => {
        await tx`select set_config('role', 'web_anon', true),
          set_config('request.headers', ${
          JSON.stringify({ "x-pre": "yes" })
        }, true)`;
        await tx`select api.pre_request()`;
        const [row] = await tx`select current_setting('response.headers', true)
          as h`;
        return row?.h as string;
      });
      assert.deepEqual(JSON.parse(headers), [{ "X-Pre-Request": "yes" }]);
    } finally {
      await sql.end();
    }
  },
});
