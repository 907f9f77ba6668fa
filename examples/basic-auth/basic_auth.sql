-- HTTP Basic authentication for pgrest, through db-pre-request.
--
-- Builds on examples/sql-user-management/schema.sql (the basic_auth.users
-- table, its bcrypt passwords, the todo_anon/todo_user roles and the
-- row-level security on api.todos): load that file first, then this one,
-- then run pgrest with
--
--   PGRST_DB_PRE_REQUEST=basic_auth.pre_request
--
-- For every request, basic_auth.pre_request() reads the Authorization header:
--
-- * `Basic base64(email:password)` with valid credentials: the request
--   continues as the user's role, with request.jwt.claims set to
--   {"role": ..., "email": ...} so the same policies apply as with a JWT;
-- * `Basic ...` with anything else: 401 with `WWW-Authenticate: Basic`;
-- * no Authorization header: the request continues as the anonymous role and
--   the response carries `WWW-Authenticate: Basic` as a hint;
-- * `Bearer ...`: left to pgrest's JWT handling.

set client_min_messages = warning;

-- Runs with the owner's rights, so that the anonymous role can check a
-- password without reading basic_auth.users.
create function basic_auth.check_credentials(email text, pass text) returns name
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select basic_auth.user_role(check_credentials.email, check_credentials.pass)
$$;

-- Not security definer: PostgreSQL forbids changing the role inside one. The
-- role switch must outlive the function, so it has no SET clauses either.
create function basic_auth.pre_request() returns void
language plpgsql
as $$
declare
  auth_header text :=
    nullif(pg_catalog.current_setting('request.headers', true), '')::pg_catalog.json
      ->> 'authorization';
  decoded text;
  sep int;
  _email text;
  _role name;
begin
  if auth_header is null then
    perform pg_catalog.set_config(
      'response.headers', '[{"WWW-Authenticate": "Basic realm=\"todos\""}]', true);
    return;
  end if;
  if auth_header !~* '^basic[ ]+' then
    return; -- e.g. a Bearer token: pgrest has already verified it
  end if;

  begin
    decoded := pg_catalog.convert_from(
      pg_catalog.decode(pg_catalog.regexp_replace(auth_header, '^basic[ ]+', '', 'i'), 'base64'),
      'UTF8');
  exception when others then
    decoded := null; -- not base64, or not UTF-8
  end;
  sep := pg_catalog.strpos(coalesce(decoded, ''), ':');
  if sep > 0 then
    _email := pg_catalog.substr(decoded, 1, sep - 1);
    _role := basic_auth.check_credentials(_email, pg_catalog.substr(decoded, sep + 1));
  end if;

  if _role is null then
    -- RAISE SQLSTATE 'PGRST' chooses the status and headers of the error
    -- response (a plain `raise sqlstate 'PT401'` gives 401 without headers).
    raise sqlstate 'PGRST' using
      message = '{"code": "PT401", "message": "invalid credentials"}',
      detail = '{"status": 401, "headers": {"WWW-Authenticate": "Basic realm=\"todos\""}}';
  end if;

  perform pg_catalog.set_config('role', _role, true);
  perform pg_catalog.set_config('request.jwt.claims',
    pg_catalog.json_build_object('role', _role, 'email', _email)::text, true);
end
$$;

-- Who the request runs as: GET /rpc/whoami.
create function api.whoami() returns json
language sql stable
as $$
  select pg_catalog.json_build_object(
    'role', current_user,
    'email', nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.json ->> 'email')
$$;

revoke all on function basic_auth.check_credentials(text, text), basic_auth.pre_request() from public;
grant usage on schema basic_auth to todo_anon, todo_user;
grant execute on function basic_auth.check_credentials(text, text), basic_auth.pre_request()
  to todo_anon, todo_user;
