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
#
#   bench/http_bench.sh big_tenant [seconds]   (issue 12, "Big tenants"; only
#   siteledgerd and wrk) grows one tenant to BIG_EVENTS events (default
#   1000000) with POST /api/v1/announcements from 16 keep-alive connections
#   (PUTs of random ones once it holds BIG_ENTITIES, default 100000), and at
#   1k, 10k, 100k and 1M
#   events prints appends/s and p99 of the last [seconds] (default 2) of
#   writes, the p99 of a GET of one announcement, of a list page and of an
#   as-of GET (one connection, [seconds] each), and siteledgerd's RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=all
if [ "${1:-}" = big_tenant ]; then mode=big_tenant; shift; fi
if [ $mode = big_tenant ]; then secs=${1:-2}; packages=wrk
else secs=${1:-10}; packages="wrk nginx-light postgresql"; fi
build=${BUILD:-build/release}  # another build: BUILD=dir bench/http_bench.sh
for p in $packages; do
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

# --- big_tenant: one tenant grown large (issue 12) -----------------------------
# Appends: wrk with a quota of responses per thread; a thread that meets it
# stops, and the last one interrupts wrk (SIGINT from a popen: os.execute's
# system() would ignore it), whose figures then cover exactly those appends.
big_tenant() {
  local total=${BIG_EVENTS:-1000000} cap=${BIG_ENTITIES:-100000} conns=16 wthreads=2
  local token ids="$work/ids" run=0
  token=$(sed -n 's/^any_token=//p' <<<"$setup")
  local auth="Authorization: JWT $token" base="http://127.0.0.1:$port"
  cat >"$work/grow.lua" <<'LUA'
-- args: create|update, responses per thread, threads, run folder, ids file
local n_threads = 0
function setup(thread)
  thread:set("tid", n_threads)
  n_threads = n_threads + 1
end
local mode, quota, threads, dir, out
local ids, n, sent = {}, 0, 0
function init(args)
  mode, quota, threads, dir = args[1], tonumber(args[2]), tonumber(args[3]), args[4]
  math.randomseed(os.time() * 100 + tid)
  if mode == "update" then
    for line in io.lines(args[5]) do ids[#ids + 1] = line:match("^(%S+)") end
  else
    out = io.open(dir .. "/ids." .. tid, "w")
  end
end
function request()
  sent = sent + 1
  local body = '{"text":"Maintenance window tonight, notice ' .. tid .. "-" .. sent ..
    '","severity":"info","startsAt":"2026-11-25T21:00:00Z","audience":{"all":true}}'
  if mode == "update" then
    return wrk.format("PUT", "/api/v1/announcements/" .. ids[math.random(#ids)], nil, body)
  end
  return wrk.format("POST", "/api/v1/announcements", nil, body)
end
function response(status, headers, body)
  n = n + 1
  if n > quota then return end
  if out and status == 201 then
    out:write(body:match('"id":"([^"]+)"'), " ", body:match('"version":(%d+)'), "\n")
  end
  if n == quota then
    wrk.thread:stop()
    if out then out:close() end
    io.open(dir .. "/done." .. tid, "w"):close()
    local p = io.popen("ls " .. dir .. " | grep -c '^done'")
    local finished = tonumber(p:read("*a"))
    p:close()
    if finished == threads then
      io.popen("mkdir " .. dir .. "/kill 2>/dev/null && kill -INT $PPID"):close()
    end
  end
end
LUA
  cat >"$work/read.lua" <<'LUA'
-- args: view|list|asof, ids file ("id created-seq" lines), head seq
local kind, head
local ids, created = {}, {}
function init(args)
  kind, head = args[1], tonumber(args[3])
  for line in io.lines(args[2]) do
    local id, seq = line:match("^(%S+) (%d+)")
    ids[#ids + 1] = id
    created[#created + 1] = tonumber(seq)
  end
  math.randomseed(os.time())
end
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function cursor()  -- base64url of "a_" and 16 random hex digits
  local s = string.format("a_%04x%04x%04x%04x", math.random(0, 65535),
    math.random(0, 65535), math.random(0, 65535), math.random(0, 65535))
  local c = {}
  for i = 1, #s, 3 do
    local v = s:byte(i) * 65536 + s:byte(i + 1) * 256 + s:byte(i + 2)
    for shift = 18, 0, -6 do
      local k = math.floor(v / 2 ^ shift) % 64
      c[#c + 1] = b64:sub(k + 1, k + 1)
    end
  end
  return table.concat(c)
end
function request()
  if kind == "list" then
    return wrk.format("GET", "/api/v1/announcements?limit=50&cursor=" .. cursor())
  end
  local i = math.random(#ids)
  if kind == "view" then return wrk.format("GET", "/api/v1/announcements/" .. ids[i]) end
  return wrk.format("GET", "/api/v1/announcements/" .. ids[i] ..
    "?as_of=seq:" .. math.random(created[i], head))
end
LUA
  : >"$ids"
  # One POST by curl: its version is the tenant's head (wrk may leave a few
  # appends in flight when it stops), and it is an entity like the others.
  probe() {
    local body
    body=$(curl -sf -X POST -H "$auth" -H 'Content-Type: application/json' \
      -d '{"text":"probe","severity":"info","startsAt":"2026-11-25T21:00:00Z","audience":{"all":true}}' \
      "$base/api/v1/announcements")
    jq -r '"\(.id) \(.version)"' <<<"$body" >>"$ids"
    head=$(jq -r .version <<<"$body")
  }
  wrk_quota() {  # create|update, events; sets $out to wrk's output
    local kind=$1 events=$2 dir
    run=$((run + 1)); dir="$work/run.$run"; mkdir -p "$dir"
    wrk -t$wthreads -c$conns -d3600s --latency -H "$auth" \
      -H 'Content-Type: application/json' -s "$work/grow.lua" "$base" \
      -- "$kind" $((events / wthreads)) $wthreads "$dir" "$ids" >"$dir/out" &
    local wrk_pid=$! done_files
    # About 1 run in 20 the Lua's SIGINT is lost (reached a wrk thread that
    # had stopped, it seems); then this sends it, late by up to 0.1 s.
    while kill -0 $wrk_pid 2>/dev/null; do
      done_files=("$dir"/done.*)
      [ ${#done_files[@]} -ge $wthreads ] && [ -e "${done_files[0]}" ] &&
        kill -INT $wrk_pid 2>/dev/null
      sleep 0.1
    done
    wait $wrk_pid
    out=$(cat "$dir/out")
    cat "$dir"/ids.* >>"$ids" 2>/dev/null || true
  }
  grow() {  # events: creates until the tenant holds $cap, then updates
    local events=$1 entities creates
    [ "$events" -ge $((2 * conns)) ] || return 0
    entities=$(wc -l <"$ids")
    creates=$((cap > entities ? cap - entities : 0))
    [ $creates -gt "$events" ] && creates=$events
    [ "$creates" -ge $((2 * conns)) ] && wrk_quota create "$creates"
    [ $((events - creates)) -ge $((2 * conns)) ] && wrk_quota update $((events - creates))
    return 0
  }
  reads() {  # view|list|asof; prints "req/s p99"
    local o
    o=$(wrk -t1 -c1 -d"${secs}s" --latency -H "$auth" -s "$work/read.lua" "$base" \
      -- "$1" "$ids" "$head")
    grep -q Non-2xx <<<"$o" && echo "  ($1: $(awk '/Non-2xx/ {print $5}' <<<"$o") non-2xx answers)" >&2
    echo "$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$o") $(awk '/^ +99%/ {print $2}' <<<"$o")"
  }

  local checkpoints=() c=1000
  while [ $c -le "$total" ]; do checkpoints+=("$c"); c=$((c * 10)); done
  [ "${checkpoints[-1]:-0}" -ne "$total" ] && checkpoints+=("$total")
  echo "big_tenant (HTTP): one tenant, $conns keep-alive connections appending" \
    "(announcements created up to $cap, then updated); reads on 1 connection," \
    "${secs}s each; siteledgerd RSS at start $(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$server_pid/status") MiB"
  printf '%9s %8s %9s %9s %9s %9s %9s %9s %8s %8s\n' events entities append/s \
    "app p99" "get p99" "list p99" "asof/s" "asof p99" "RSS MiB" "db MiB"
  local head rate=0 out window view list asof start=$SECONDS
  probe
  for n in "${checkpoints[@]}"; do
    # The measured window: about $secs s of appends at the last rate.
    window=$((n - head))
    if [ "$rate" -gt 0 ] && [ $((rate * secs)) -lt $window ]; then
      grow $((window - rate * secs))
      probe
      window=$((n - head))
    fi
    grow $window
    rate=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    grep -q Non-2xx <<<"$out" && echo "  (appends: $(awk '/Non-2xx/ {print $5}' <<<"$out") non-2xx answers)"
    probe
    view=$(reads view); list=$(reads list); asof=$(reads asof)
    printf '%9s %8s %9s %9s %9s %9s %9s %9s %8s %8s\n' "$head" "$(wc -l <"$ids")" \
      "$rate" "$(awk '/^ +99%/ {print $2}' <<<"$out")" "${view#* }" "${list#* }" \
      "${asof% *}" "${asof#* }" \
      "$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$server_pid/status")" \
      "$(du -sm "$work/data" | cut -f1)"
  done
  echo "big_tenant (HTTP): $((SECONDS - start)) s in all (append/s and app p99: the last" \
    "appends before each row, about ${secs}s of them; entities: those the run saw created)"
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
server_pid=${pids[-1]}

if [ $mode = big_tenant ]; then big_tenant; exit; fi

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
