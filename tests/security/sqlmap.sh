#!/bin/sh
# sqlmap against pgrest, as the anonymous role, over data it may not read.
#
# Usage: sh tests/security/sqlmap.sh            (from the repository root)
# Needs: deno, PostgreSQL 15 binaries (as for `deno task test`) and Debian's
#        sqlmap (`apt-get install -y sqlmap`). Runs as root or as a normal
#        user. The full run sends about 350,000 requests: 49 minutes on a
#        busy 2-core machine (sqlmap is single-threaded here).
#
# tests/security/sqlmap_server.ts starts a private PostgreSQL cluster, loads
# tests/security/sqlmap_fixture.sql and starts pgrest on it with
# db-schemas=sqlmap and db-anon-role=web_anon; no token is ever sent.
# sqlmap then runs at --level 5 --risk 3, every technique and every DBMS,
# against:
#
#   1. a table with filters, logic trees, JSON paths, order and offset (also
#      the User-Agent, Referer and Host headers, once: headers reach SQL the
#      same way on every endpoint);
#   2. an embedding request with embedded filters and order;
#   3. an RPC endpoint, by GET (arguments and filters on its result) and by
#      POST (a JSON body).
#
# `limit` is left out: a negative limit is 416 PGRST103 (as in PostgREST),
# and sqlmap gives up on a whole target at the first 416 it gets.
#
# It passes when sqlmap identifies no injection point in any run, no
# response carries the marker of the secret rows (SQLMAP_SECRET_5d1e, in
# sqlmap.secrets and in the RLS-hidden notes; checked in sqlmap's traffic
# log), sqlmap.secrets still has its rows, and pgrest
# answered no request with a 5xx status. The cluster, pgrest and the work
# directory are removed on exit, also on failure and Ctrl-C.
#
# Environment: SQLMAP_WORK (default: a new temporary directory; kept when
# given), SQLMAP_EXTRA (extra sqlmap options, e.g. "--dbms=PostgreSQL" for a
# quicker run), SQLMAP_TARGETS (the runs to do, default
# "table embed rpc_get rpc_post").

set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2

if ! command -v sqlmap >/dev/null 2>&1; then
  echo "sqlmap.sh: sqlmap is not installed (apt-get install -y sqlmap)" >&2
  exit 2
fi
if ! command -v deno >/dev/null 2>&1; then
  echo "sqlmap.sh: deno is not installed" >&2
  exit 2
fi

if [ -n "${SQLMAP_WORK:-}" ]; then
  WORK=$SQLMAP_WORK
  KEEP_WORK=1
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgrest-sqlmap-XXXXXX")
  KEEP_WORK=0
fi
MARKER=SQLMAP_SECRET_5d1e
DRIVER_PID=""
DRIVER_OUT="$WORK/server.out"

cleanup() {
  if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null
    wait "$DRIVER_PID" 2>/dev/null
  fi
  DRIVER_PID=""
  if [ "$KEEP_WORK" = 0 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$(date +%s)
deno run -A tests/security/sqlmap_server.ts >"$DRIVER_OUT" 2>"$WORK/server.err" &
DRIVER_PID=$!

URL=""
i=0
while [ $i -lt 240 ]; do
  URL=$(sed -n 's/^READY //p' "$DRIVER_OUT")
  [ -n "$URL" ] && break
  if ! kill -0 "$DRIVER_PID" 2>/dev/null; then break; fi
  sleep 0.5
  i=$((i + 1))
done
if [ -z "$URL" ]; then
  echo "sqlmap.sh: the server did not start" >&2
  cat "$WORK/server.err" >&2
  exit 2
fi
echo "sqlmap.sh: pgrest at $URL (work directory $WORK)"

failures=0
n=0

# run_sqlmap NAME [sqlmap options...]
run_sqlmap() {
  name=$1
  shift
  case " ${SQLMAP_TARGETS:-table embed rpc_get rpc_post} " in
    *" $name "*) ;;
    *) return 0 ;;
  esac
  n=$((n + 1))
  out="$WORK/$name"
  mkdir -p "$out"
  t0=$(date +%s)
  # shellcheck disable=SC2086
  sqlmap "$@" \
    --level 5 --risk 3 --batch --flush-session --disable-coloring \
    --answers="skip those kind=N,reduce the number=N,further target=Y" \
    --output-dir "$out" -t "$out/traffic.txt" ${SQLMAP_EXTRA:-} \
    >"$out/log.txt" 2>&1 </dev/null
  code=$?
  t1=$(date +%s)
  found=$(grep -E "identified the following injection point|appears to be '.*' injectable|is vulnerable" "$out/log.txt")
  requests=$(grep -c "^HTTP request \[#" "$out/traffic.txt" 2>/dev/null)
  leaked=$(grep -c "$MARKER" "$out/traffic.txt" 2>/dev/null)
  leaked=${leaked:-0}
  verdict=ok
  if [ -n "$found" ]; then
    verdict=INJECTABLE
  elif [ "$leaked" != 0 ]; then
    verdict=LEAKED
  elif ! grep -q "do not appear to be injectable" "$out/log.txt"; then
    verdict="INCOMPLETE (exit $code)"
  fi
  printf 'sqlmap.sh: %-14s %-26s %4ss %6s requests\n' \
    "$name" "$verdict" "$((t1 - t0))" "$requests"
  if [ "$verdict" != ok ]; then
    failures=$((failures + 1))
    [ -n "$found" ] && printf '%s\n' "$found"
    tail -n 20 "$out/log.txt"
  fi
}

run_sqlmap table \
  -u "$URL/products?select=id,name,price,info&name=eq.Widget&price=lt.50&category_id=in.(1,2)&info->>color=eq.red&tags=cs.{metal}&or=(id.eq.1,price.gt.20)&order=id.desc&offset=0"

run_sqlmap embed --skip="User-Agent,Referer,Host" \
  -u "$URL/categories?select=id,name,products(id,name,notes(body))&products.price=lt.50&products.order=price.desc&id=gte.1"

run_sqlmap rpc_get --skip="User-Agent,Referer,Host" \
  -u "$URL/rpc/search_products?term=Wid&max_price=50&select=id,name&order=id.asc"

run_sqlmap rpc_post --skip="User-Agent,Referer,Host" \
  -u "$URL/rpc/search_products" \
  --data '{"term": "Wid", "max_price": 50}' \
  --headers "Content-Type: application/json"

kill -TERM "$DRIVER_PID" 2>/dev/null
wait "$DRIVER_PID" 2>/dev/null
DRIVER_PID=""
cat "$WORK/server.err" >&2

rows=$(sed -n 's/^SECRETS_ROWS //p' "$DRIVER_OUT")
statuses=$(sed -n 's/^PGRST_STATUS //p' "$DRIVER_OUT" | tr '\n' ' ')
errors=$(sed -n 's/^PGRST_STATUS \(5[0-9][0-9]\) \([0-9]*\)$/\1x\2/p' "$DRIVER_OUT" | tr '\n' ' ')
echo "sqlmap.sh: pgrest answered (status count): $statuses"
echo "sqlmap.sh: sqlmap.secrets rows: ${rows:-?}"
if [ "$rows" != 2 ]; then
  echo "sqlmap.sh: sqlmap.secrets was changed" >&2
  failures=$((failures + 1))
fi
if [ -n "$errors" ]; then
  echo "sqlmap.sh: pgrest answered with server errors: $errors" >&2
  failures=$((failures + 1))
fi

elapsed=$(($(date +%s) - started))
if [ "$failures" -gt 0 ]; then
  echo "sqlmap.sh: FAILED ($failures problems) in ${elapsed}s"
  exit 1
fi
echo "sqlmap.sh: ok, $n runs, no injection found, in ${elapsed}s"
