/**
 * Owns the catalog queries that build the schema cache. Each takes the
 * exposed schemas as `$1` (a text array) and returns plain rows.
 *
 * @module
 */

/**
 * Tables, views, materialized views and foreign tables with their columns.
 * Set-based (keys and columns aggregated per relation and joined, not one
 * correlated subquery per relation and column) and without whole-row
 * calls of information_schema functions: on 1,000 tables this runs about
 * three times faster than the correlated form and stays below the cost
 * at which PostgreSQL would JIT-compile it (bench/schema_scale.ts).
 * Unique keys come in creation order. A column whose type is a domain
 * with implicit cast functions to json or from json/text carries them as
 * `repr` (data representations, PostgREST's `dataRepresentations` query).
 */
export const TABLES_SQL = `
with rels as (
  select c.oid, n.nspname, c.relname, c.relkind
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'v', 'm', 'f', 'p')
    and not c.relispartition
    and n.nspname = any($1::text[])
),
key_columns as (
  select con.oid, con.conrelid, con.contype,
    json_agg(a.attname order by array_position(con.conkey, a.attnum)) as by_key,
    json_agg(a.attname order by a.attname) as by_name
  from pg_constraint con
  join rels r on r.oid = con.conrelid
  join pg_attribute a on a.attrelid = con.conrelid and a.attnum = any(con.conkey)
  where con.contype in ('p', 'u')
  group by con.oid, con.conrelid, con.contype
),
keys as (
  select conrelid,
    (array_agg(by_key) filter (where contype = 'p'))[1] as pk,
    json_agg(by_name order by oid) as uniques
  from key_columns
  group by conrelid
),
enums as (
  select enumtypid, json_agg(enumlabel order by enumsortorder) as labels
  from pg_enum
  group by enumtypid
),
reps as (
  select t.oid as typ, json_strip_nulls(json_build_object(
      'to_json', (array_agg(json_build_array(pn.nspname, p.proname)) filter (
        where c.castsource = t.oid and c.casttarget = 'json'::regtype))[1],
      'from_json', (array_agg(json_build_array(pn.nspname, p.proname)) filter (
        where c.castsource = 'json'::regtype and c.casttarget = t.oid))[1],
      'from_text', (array_agg(json_build_array(pn.nspname, p.proname)) filter (
        where c.castsource = 'text'::regtype and c.casttarget = t.oid))[1]
    )) as fns
  from pg_cast c
  join pg_type t on t.typtype = 'd'
    and ((c.castsource = t.oid and c.casttarget = 'json'::regtype)
      or (c.casttarget = t.oid and c.castsource in ('json'::regtype, 'text'::regtype)))
  join pg_proc p on p.oid = c.castfunc
  join pg_namespace pn on pn.oid = p.pronamespace
  where c.castcontext = 'i' and c.castmethod = 'f'
    and has_function_privilege(c.castfunc, 'execute')
  group by t.oid
),
cols as (
  select a.attrelid, json_agg(json_build_object(
      'name', a.attname,
      'description', cd.description,
      'nullable', not a.attnotnull,
      'type', format_type(a.atttypid, a.atttypmod),
      'nominal', case when t.typtype = 'd' then (
          -- the base type under a chain of domains
          with recursive b(typ, mod, depth) as (
            select t.typbasetype, t.typtypmod, 0
            union all
            select d.typbasetype, case when d.typtypmod = -1 then b.mod else d.typtypmod end, b.depth + 1
            from b join pg_type d on d.oid = b.typ and d.typtype = 'd'
            where b.depth < 32
          )
          select format_type(b.typ, b.mod) from b order by b.depth desc limit 1
        ) else format_type(a.atttypid, a.atttypmod) end,
      'data_type', case
        when t.typtype = 'd' and bn.nspname = 'pg_catalog' then format_type(t.typbasetype, null)
        when t.typtype <> 'd' and tn.nspname = 'pg_catalog' then format_type(a.atttypid, null)
        when pg_type_is_visible(a.atttypid) then quote_ident(tn.nspname) || '.' || format_type(a.atttypid, a.atttypmod)
        else format_type(a.atttypid, a.atttypmod)
      end,
      'maxlen', case
        when (case when t.typtype = 'd' then t.typtypmod else a.atttypmod end) = -1 then null
        when (case when t.typtype = 'd' then t.typbasetype else a.atttypid end) in (1042, 1043)
          then (case when t.typtype = 'd' then t.typtypmod else a.atttypmod end) - 4
        when (case when t.typtype = 'd' then t.typbasetype else a.atttypid end) in (1560, 1562)
          then (case when t.typtype = 'd' then t.typtypmod else a.atttypmod end)
      end,
      'default', case
        when a.attgenerated <> '' then null
        when ad.adbin is not null then pg_get_expr(ad.adbin, ad.adrelid)
        when a.attidentity <> '' then (
          select format('nextval(%L::regclass)', format('%I.%I', sn.nspname, sq.relname))
          from pg_depend dep
          join pg_class sq on sq.oid = dep.objid and sq.relkind = 'S'
          join pg_namespace sn on sn.oid = sq.relnamespace
          where dep.refclassid = 'pg_class'::regclass and dep.refobjid = a.attrelid
            and dep.refobjsubid = a.attnum and dep.classid = 'pg_class'::regclass
            and dep.deptype = 'i'
          limit 1)
      end,
      'generated', a.attgenerated <> '',
      'enum', coalesce(en.labels, '[]'),
      'position', a.attnum,
      'repr', rp.fns
    ) order by a.attnum) as columns
  from pg_attribute a
  join rels r on r.oid = a.attrelid
  join pg_type t on t.oid = a.atttypid
  join pg_namespace tn on tn.oid = t.typnamespace
  left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
  left join pg_namespace bn on bn.oid = bt.typnamespace
  left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
  left join pg_description cd on cd.objoid = a.attrelid and cd.classoid = 'pg_class'::regclass and cd.objsubid = a.attnum
  left join enums en on en.enumtypid = case when t.typtype = 'd' then t.typbasetype else a.atttypid end
  left join reps rp on rp.typ = a.atttypid
  where a.attnum > 0 and not a.attisdropped
  group by a.attrelid
)
select
  r.nspname as schema,
  r.relname as name,
  d.description as description,
  r.relkind in ('v', 'm') as is_view,
  r.relkind = 'p' as is_partitioned,
  (r.relkind in ('r', 'p') or (pg_relation_is_updatable(r.oid::regclass, true) & 8) = 8) as insertable,
  (r.relkind in ('r', 'p') or (pg_relation_is_updatable(r.oid::regclass, true) & 4) = 4) as updatable,
  (r.relkind in ('r', 'p') or (pg_relation_is_updatable(r.oid::regclass, true) & 16) = 16) as deletable,
  coalesce(k.pk, '[]') as pk,
  coalesce(k.uniques, '[]') as uniques,
  coalesce(cl.columns, '[]') as columns
from rels r
left join pg_description d on d.objoid = r.oid and d.objsubid = 0 and d.classoid = 'pg_class'::regclass
left join keys k on k.conrelid = r.oid
left join cols cl on cl.attrelid = r.oid
order by r.nspname, r.relname
`;

/** Foreign keys whose owner or target lies in the exposed schemas. */
export const FOREIGN_KEYS_SQL = `
select
  con.conname as constraint,
  ns1.nspname as schema,
  c1.relname as table,
  (select json_agg(a.attname order by k.ord) from unnest(con.conkey) with ordinality k(attnum, ord)
     join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum) as columns,
  ns2.nspname as ref_schema,
  c2.relname as ref_table,
  (select json_agg(a.attname order by k.ord) from unnest(con.confkey) with ordinality k(attnum, ord)
     join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum) as ref_columns
from pg_constraint con
join pg_class c1 on c1.oid = con.conrelid
join pg_namespace ns1 on ns1.oid = c1.relnamespace
join pg_class c2 on c2.oid = con.confrelid
join pg_namespace ns2 on ns2.oid = c2.relnamespace
where con.contype = 'f'
  and ns1.nspname not in ('pg_catalog', 'information_schema')
  and ns2.nspname not in ('pg_catalog', 'information_schema')
  and ($1::text[] is not null)
order by con.conname
`;

/** Functions of the exposed schemas with their parameters and return type. */
export const ROUTINES_SQL = `
select
  p.oid::int8 as oid,
  pn.nspname as schema,
  p.proname as name,
  d.description as description,
  coalesce((
    select json_agg(json_build_object(
      'name', coalesce(p.proargnames[i], ''),
      'type', format_type(p.proallargtypes_or_args[i], null),
      'required', i <= p.pronargs - p.pronargdefaults,
      'variadic', p.provariadic <> 0 and i = p.pronargs
    ) order by i)
    from generate_subscripts(p.proallargtypes_or_args, 1) i
    where coalesce(p.proargmodes[i], 'i') in ('i', 'b', 'v')
  ), '[]') as params,
  tn.nspname as return_type_schema,
  t.typname as return_type_name,
  case when t.typtype = 'd' then format_type(t.typbasetype, null) end as return_base_type,
  case when t.typtype = 'd' then (
    select json_build_array(sn.nspname, sp.proname)
    from pg_type bt
    join pg_proc sp on sp.oid = bt.typsend
    join pg_namespace sn on sn.oid = sp.pronamespace
    where bt.oid = t.typbasetype
  ) end as return_send,
  p.proretset as returns_set,
  -- a bare record (no OUT or TABLE columns) is a scalar, as in PostgREST
  (t.typtype = 'c'
    or coalesce('t' = any(p.proargmodes) or 'o' = any(p.proargmodes)
      or 'b' = any(p.proargmodes), false)) as returns_composite,
  p.provolatile as volatility,
  p.prorows as est_rows,
  coalesce(array_to_json(p.proconfig), '[]') as settings,
  (select tn1.nspname from pg_type t1 join pg_namespace tn1 on tn1.oid = t1.typnamespace
    where t1.oid = p.proargtypes[0]) as first_arg_schema,
  (select t1.typname from pg_type t1 where t1.oid = p.proargtypes[0]) as first_arg_name
from (
  select pp.*, coalesce(pp.proallargtypes, array(select unnest(pp.proargtypes))) as proallargtypes_or_args
  from pg_proc pp
) p
join pg_namespace pn on pn.oid = p.pronamespace
join pg_type rt on rt.oid = p.prorettype
-- a domain over a composite type returns that composite type's rows
left join pg_type rbt on rt.typtype = 'd' and rbt.oid = rt.typbasetype and rbt.typtype = 'c'
join pg_type t on t.oid = coalesce(rbt.oid, rt.oid)
join pg_namespace tn on tn.oid = t.typnamespace
left join pg_description d on d.objoid = p.oid and d.classoid = 'pg_proc'::regclass
where pn.nspname = any($1::text[]) and p.prokind = 'f'
order by pn.nspname, p.proname, p.oid
`;

/** Views (any user schema) with their stored query trees. */
export const VIEWS_SQL = `
select c.oid::int8 as oid, r.ev_action::text as action
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_rewrite r on r.ev_class = c.oid and r.rulename = '_RETURN'
where c.relkind in ('v', 'm')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg_toast%'
`;

/**
 * Names, columns and keys (primary key, unique column sets) of relations by
 * OID (\$1: an OID array).
 */
export const RELATIONS_SQL = `
select c.oid::int8 as oid, n.nspname as schema, c.relname as name,
  c.relkind in ('v', 'm') as is_view,
  coalesce((
    select json_object_agg(a.attnum, a.attname)
    from pg_attribute a
    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  ), '{}') as attnames,
  (
    select json_agg(a.attname order by k.ord)
    from pg_constraint con, unnest(con.conkey) with ordinality k(attnum, ord)
    join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
    where con.conrelid = c.oid and con.contype = 'p'
  ) as pk,
  coalesce((
    select json_agg((
      select json_agg(a.attname order by a.attname)
      from pg_attribute a
      where a.attrelid = c.oid and a.attnum = any(con.conkey)
    ) order by con.oid)
    from pg_constraint con
    where con.conrelid = c.oid and con.contype in ('p', 'u')
  ), '[]') as uniques
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where c.oid = any($1::oid[])
`;

/**
 * `ALTER ROLE … SET` settings, one row per entry (`role`, `name`, `value`),
 * role-wide entries before those for the current database (so a later
 * entry of the same name wins), each in the order stored. `settable` tells
 * whether the connecting role (the authenticator, which applies them with
 * `set_config` before it switches role) may set it. PostgREST's
 * `queryRoleSettings` keeps a `user` parameter, or one the authenticator has
 * the SET privilege on (PostgreSQL 15 and later, `GRANT SET ON PARAMETER`);
 * this query keeps those too, and more: `superuser` parameters when the
 * authenticator is a superuser (also before 15), custom (dotted) names that
 * the server does not know (PostgREST drops them; anyone may set them), and
 * `IN DATABASE` entries of the current database (PostgREST reads role-wide
 * ones only). Parameters of any other context
 * (`postmaster`, `sighup`, `backend`, …) cannot be changed in a
 * transaction at all. With `currentUserOnly`, only the connecting role's
 * own entries (in-database configuration, `pgrst.*`).
 */
export function roleSettingsSql(
  pgVersion: number,
  currentUserOnly = false,
): string {
  const granted = pgVersion >= 150000
    ? "or has_parameter_privilege(current_user, p.name, 'SET')"
    : "";
  return `
with entries as (
  select r.rolname as role, s.setdatabase, e.ord,
    split_part(e.setting, '=', 1) as name,
    substr(e.setting, strpos(e.setting, '=') + 1) as value
  from pg_db_role_setting s
  join pg_roles r on r.oid = s.setrole
  cross join lateral unnest(s.setconfig) with ordinality as e(setting, ord)
  where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
    and strpos(e.setting, '=') > 0${
    currentUserOnly ? "\n    and r.rolname = current_user" : ""
  }
)
select e.role, e.name, e.value,
  coalesce(
    p.context = 'user'
    or (p.context = 'superuser' and (
      (select rolsuper from pg_roles where rolname = current_user) ${granted}))
    or (p.name is null and strpos(e.name, '.') > 0),
    false) as settable
from entries e
left join pg_settings p on p.name = lower(e.name)
order by e.role, e.setdatabase, e.ord
`;
}

/** {@linkcode roleSettingsSql} for PostgreSQL 15 and later. */
export const ROLE_SETTINGS_SQL: string = roleSettingsSql(150000);

/**
 * Media type handlers: aggregates returning a domain named after a media
 * type, over one table's row type or anyelement. `send` is the binary send
 * function of the domain's base type (the body is that binary form).
 */
export const MEDIA_HANDLERS_SQL = `
select
  an.nspname as schema,
  ap.proname as name,
  rt.typname as media_type,
  case when at.typrelid <> 0 then atn.nspname end as target_schema,
  case when at.typrelid <> 0 then at.typname end as target_name,
  json_build_array(sn.nspname, sp.proname) as send
from pg_aggregate a
join pg_proc ap on ap.oid = a.aggfnoid
join pg_namespace an on an.oid = ap.pronamespace
join pg_type rt on rt.oid = ap.prorettype and rt.typtype = 'd'
join pg_type bt on bt.oid = rt.typbasetype
join pg_proc sp on sp.oid = bt.typsend
join pg_namespace sn on sn.oid = sp.pronamespace
join pg_type at on at.oid = ap.proargtypes[0]
join pg_namespace atn on atn.oid = at.typnamespace
where ap.pronargs = 1
  and rt.typname ~ '^[^/]+/[^/]+$'
  and (at.typrelid <> 0 or at.oid = 'anyelement'::regtype)
  and an.nspname not in ('pg_catalog', 'information_schema')
order by an.nspname, ap.proname
`;

/**
 * What each role the authenticator can switch to (`pg_has_role … MEMBER`)
 * may use in the exposed schemas: the tables and views on which it holds
 * any privilege (on the table or one of its columns), and the functions it
 * may execute, both with USAGE on the schema. "Perhaps you meant" hints
 * name only these.
 */
export const PRIVILEGES_SQL = `
select
  r.rolname as role,
  coalesce((
    select json_agg(json_build_array(n.nspname, c.relname))
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any($1::text[])
      and c.relkind in ('r', 'v', 'm', 'f', 'p')
      and has_schema_privilege(r.oid, n.oid, 'USAGE')
      and (has_table_privilege(r.oid, c.oid, 'SELECT, INSERT, UPDATE, DELETE')
        or has_any_column_privilege(r.oid, c.oid, 'SELECT, INSERT, UPDATE'))
  ), '[]') as tables,
  coalesce((
    select json_agg(p.oid)
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = any($1::text[])
      and has_schema_privilege(r.oid, n.oid, 'USAGE')
      and has_function_privilege(r.oid, p.oid, 'EXECUTE')
  ), '[]') as routines
from pg_roles r
where pg_has_role(current_user, r.oid, 'MEMBER')
`;
