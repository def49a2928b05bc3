#!/usr/bin/env bash
# The offline tools on one big tenant: grows a tenant with POST
# /api/v1/announcements from 16 keep-alive connections (wrk) for [seconds]
# (default 30) against a Release siteledgerd, then times, with its peak RSS,
# `siteledger verify` beside the live server, and on the stopped region
# `verify`, `replay`, `export`, `import` into a new region's folder and
# `replay --repair`. Needs a Release build:
#   cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSITELEDGER_TESTS=OFF
#   cmake --build build/release -j2 --target siteledger siteledgerd siteledger-bench
# Usage: bench/offline_tools.sh [seconds]   (BUILD=dir for another build)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
build=${BUILD:-build/release}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/data"
setup=$("$build/bench/siteledger-bench" --benchmarks=http_setup --db="$work/data/us")
token=$(sed -n 's/^any_token=//p' <<<"$setup")
rm -f "$work/data/us/.siteledger-bench"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/server/siteledgerd" --data "$work/data/us" --listen 127.0.0.1:$port \
  --threads 2 2>"$work/siteledgerd.log" &
pid=$!
sleep 2
cat >"$work/post.lua" <<'LUA'
local n = 0
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local body = '{"text":"Maintenance window tonight, notice ' .. n ..
    '","severity":"info","startsAt":"2026-11-25T21:00:00Z","audience":{"all":true}}'
  return wrk.format("POST", "/api/v1/announcements", nil, body)
end
LUA
wrk -t2 -c16 -d${secs}s -s "$work/post.lua" -H "Authorization: JWT $token" \
  "http://127.0.0.1:$port/" | grep -E "requests in"
tool=$build/tools/siteledger
timed() {  # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || true
  read -r s kib <"$work/time"
  printf '%-22s : %7.2f s; peak RSS %5d MiB; %s\n' "$name" "$s" $((kib / 1024)) \
    "$(tail -1 "$work/out")"
}
timed "verify (live server)" "$tool" verify --data "$work/data/us"
kill $pid; wait $pid || true
timed "verify" "$tool" verify --data "$work/data/us"
timed "replay" "$tool" replay --data "$work/data/us"
timed "export" "$tool" export --data "$work/data/us" --tenant bench-client --out "$work/t.ndjson"
echo "export file            : $(stat -c %s "$work/t.ndjson") bytes"
timed "import" "$tool" import "$work/t.ndjson" --region eu --data "$work/data/eu"
timed "replay --repair" "$tool" replay --data "$work/data/us" --repair
