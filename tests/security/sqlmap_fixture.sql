-- The schema sqlmap attacks (tests/security/sqlmap.sh, loaded by
-- tests/security/sqlmap_server.ts into its own cluster as the superuser).
--
-- pgrest runs with `db-anon-role = web_anon` and exposes only `sqlmap`.
-- web_anon may read categories, products and the visible notes, and call
-- search_products(); it may not read sqlmap.secrets (no privilege) nor the
-- notes with hidden = true (row-level security). Every secret value holds
-- the marker SQLMAP_SECRET_5d1e, which must never appear in a response.

set client_min_messages = warning;

create schema sqlmap;

create table sqlmap.categories (
  id int primary key,
  name text not null
);

create table sqlmap.products (
  id int primary key,
  name text not null,
  price numeric not null,
  category_id int not null references sqlmap.categories (id),
  tags text[] not null default '{}',
  info jsonb
);

create table sqlmap.secrets (
  id int primary key,
  owner text not null,
  secret text not null
);

create table sqlmap.notes (
  id int primary key,
  product_id int not null references sqlmap.products (id),
  body text not null,
  hidden boolean not null default false
);

alter table sqlmap.notes enable row level security;
create policy notes_visible on sqlmap.notes for select to web_anon
  using (not hidden);

insert into sqlmap.categories values (1, 'Tools'), (2, 'Toys'), (3, 'Books');
insert into sqlmap.products values
  (1, 'Widget', 9.5, 1, '{metal,small}', '{"color": "red", "stock": 3}'),
  (2, 'Gadget', 25, 1, '{metal}', '{"color": "blue", "stock": 0}'),
  (3, 'Teddy', 12, 2, '{soft}', '{"color": "brown", "stock": 7}'),
  (4, 'Primer', 30, 3, '{}', null),
  (5, 'Gizmo', 99.99, 1, '{large}', '{"color": "red", "stock": 1}');
insert into sqlmap.secrets values
  (1, 'alice', 'SQLMAP_SECRET_5d1e alice'),
  (2, 'bob', 'SQLMAP_SECRET_5d1e bob');
insert into sqlmap.notes values
  (1, 1, 'ships in a box', false),
  (2, 1, 'SQLMAP_SECRET_5d1e hidden note', true),
  (3, 3, 'washable', false);

-- A set-returning function with a text and a numeric argument.
create function sqlmap.search_products(term text, max_price numeric default 1000)
returns setof sqlmap.products
language sql stable as $$
  select * from sqlmap.products
  where name ilike '%' || term || '%' and price <= max_price
  order by id
$$;

grant usage on schema sqlmap to web_anon;
grant select on sqlmap.categories, sqlmap.products, sqlmap.notes to web_anon;
revoke all on sqlmap.secrets from public, web_anon;
revoke execute on function sqlmap.search_products(text, numeric) from public;
grant execute on function sqlmap.search_products(text, numeric) to web_anon;
