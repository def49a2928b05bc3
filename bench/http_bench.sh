#!/usr/bin/env bash
# HTTP workloads, side by side with the systems a user would pick instead,
# in one run on one machine:
#   http_read_view  GET of a site view, 32 connections      vs  nginx serving a
#                                                               static 1 KiB JSON file
#   http_append     PUT of a navigation tree, 32 connections vs PostgreSQL 15:
#                                                               one-row INSERT
#                                                               transactions, 16 clients
# Prints req/s and p50/p99 for each. Needs a Release build:
#   cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSITELEDGER_TESTS=OFF
#   cmake --build build/release
# Usage: bench/http_bench.sh [seconds]   (installs wrk, nginx-light and
# postgresql from Debian if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
build=${BUILD:-build/release}  # another build: BUILD=dir bench/http_bench.sh
for p in wrk nginx-light postgresql; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$p" >/dev/null; }
done
work=$(mktemp -d /var/tmp/siteledger-http-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${pg_dir:-}" ] && su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $pg_dir stop -m fast" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

report() {  # name, wrk output
  local name=$1 out=$2
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '/^ +50%/ {print $2}' <<<"$out")
  p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
  printf '%-22s : %10s req/s; p50 %8s; p99 %8s\n' "$name" "$rps" "$p50" "$p99"
}

# --- siteledgerd -------------------------------------------------------------
setup=$("$build/bench/siteledger-bench" --benchmarks=http_setup --db="$work/data/us")
site=$(sed -n 's/^site=//p' <<<"$setup")
read_token=$(sed -n 's/^read_token=//p' <<<"$setup")
append_token=$(sed -n 's/^append_token=//p' <<<"$setup")
port=18480
"$build/server/siteledgerd" --data "$work/data/us" --listen 127.0.0.1:$port \
  --threads 2 2>"$work/siteledgerd.log" &
pids+=($!)
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done

out=$(wrk -t2 -c32 -d"${secs}s" --latency \
  -H "Authorization: JWT $read_token" "http://127.0.0.1:$port/api/v1/sites/$site")
report http_read_view "$out"

cat >"$work/put.lua" <<LUA
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "JWT $append_token"
wrk.body = '{"items":[{"id":"home","label":"Home","link":{"url":"https://intranet.example.com/"}},{"id":"docs","label":"Docs","link":{"spaceKey":"DOCS"},"children":[{"id":"guide","label":"Guide","link":{"contentId":"12345"}}]}]}'
LUA
out=$(wrk -t2 -c32 -d"${secs}s" --latency -s "$work/put.lua" \
  "http://127.0.0.1:$port/api/v1/sites/$site/navigation")
report http_append "$out"
non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out"); [ -n "$non2xx" ] && echo "  (non-2xx answers: $non2xx)"

# --- media: 1 MiB images up and down, next to the disk's own write speed -------
"$build/bench/siteledger-bench" --benchmarks=http_media --threads=4 \
  --seconds="$secs" --server="http://127.0.0.1:$port" --db="$work/disk"

# --- nginx, static 1 KiB JSON ---------------------------------------------------
mkdir -p "$work/www"
head -c 1024 /dev/zero | tr '\0' 'x' | sed 's/^/{"pad":"/; s/$/"}/' | head -c 1024 >"$work/www/site.json"
cat >"$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:18481; root $work/www; default_type application/json; }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
pids+=($(cat "$work/nginx.pid" 2>/dev/null || true))
sleep 0.3
out=$(wrk -t2 -c32 -d"${secs}s" --latency http://127.0.0.1:18481/site.json)
report nginx_static_1k "$out"
kill "$(cat "$work/nginx.pid")" 2>/dev/null || true

# --- PostgreSQL 15, one-row INSERT per transaction, 16 clients -------------------
pg_dir="$work/pg"
mkdir -p "$pg_dir" && chown postgres "$pg_dir" "$work"
chmod 755 "$work"
su postgres -c "/usr/lib/postgresql/15/bin/initdb -D $pg_dir -A trust" >/dev/null
su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $pg_dir -o '-p 18482 -k $pg_dir' -l $pg_dir/log start" >/dev/null
sleep 1
su postgres -c "psql -h $pg_dir -p 18482 -c 'CREATE TABLE events (tenant bigint, seq bigserial, payload jsonb)' postgres" >/dev/null
echo "INSERT INTO events (tenant, payload) VALUES (1, '{\"siteId\":\"s_1\",\"items\":[]}');" >"$work/insert.sql"
chown postgres "$work/insert.sql"
out=$(su postgres -c "pgbench -h $pg_dir -p 18482 -n -c 16 -j 2 -T $secs -f $work/insert.sql -r postgres" 2>&1)
tps=$(awk '/^tps/ {print $3}' <<<"$out")
lat=$(awk '/latency average/ {print $4}' <<<"$out")
printf '%-22s : %10s tx/s; average latency %s ms (synchronous_commit on)\n' postgres_insert_16 "$tps" "$lat"
