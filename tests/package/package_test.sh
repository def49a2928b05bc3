#!/usr/bin/env bash
# The Debian package, as a server's administrator meets it: builds it with
# cpack from the build folder, checks it with lintian (no errors), extracts
# it, checks its systemd unit with systemd-analyze verify against the
# extracted root, and starts the extracted siteledgerd with the extracted
# config (its data folder moved to a scratch folder by a flag, which wins
# over the file) on 127.0.0.1, then asks /healthz and /readyz.
# Needs no running systemd and no root.
#
# Usage: package_test.sh BUILD_DIR
set -euo pipefail

build=$(cd "$1" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/siteledger-package-test.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

echo "== cpack -G DEB"
# Its own output and staging folder: two runs of this test do not meet.
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$scratch/out" \
  >"$scratch/cpack.log" 2>&1 || {
  cat "$scratch/cpack.log" >&2
  fail "cpack -G DEB"
}
debs=("$scratch"/out/siteledger_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "no siteledger_*.deb"
deb=${debs[0]}
echo "built $(basename "$deb")"

echo "== control fields"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for dep in adduser init-system-helpers libc6 librocksdb; do
  [[ "$depends" == *"$dep"* ]] || fail "Depends lacks $dep"
done
# (Outputs are read whole before matching: grep -q stopping early would
# kill the writer with SIGPIPE, a failure under pipefail.)
conffiles=$(dpkg-deb -I "$deb" conffiles) || fail "no conffiles"
grep -qx '/etc/siteledger/siteledgerd.conf' <<<"$conffiles" ||
  fail "/etc/siteledger/siteledgerd.conf is not a conffile"

echo "== lintian"
# Warnings are allowed; an error fails. lintian warns when run as root
# (CI runs as root): that is about lintian, not the package.
lintian --fail-on error --tag-display-limit 0 "$deb" \
  2>&1 | grep -v 'running with root privileges' || true
lintian --fail-on error "$deb" >/dev/null 2>&1 ||
  fail "lintian reports errors (listed above)"

echo "== extract"
root="$scratch/root"
dpkg-deb -x "$deb" "$root"
for f in usr/bin/siteledgerd usr/bin/siteledger \
  lib/systemd/system/siteledgerd.service etc/siteledger/siteledgerd.conf \
  usr/share/doc/siteledger/copyright usr/share/doc/siteledger/changelog.gz; do
  [ -e "$root/$f" ] || fail "the package lacks /$f"
done
[ -x "$root/usr/bin/siteledgerd" ] || fail "siteledgerd is not executable"
unit="$root/lib/systemd/system/siteledgerd.service"
for setting in 'User=siteledger' 'StateDirectory=siteledger' \
  'ProtectSystem=strict' 'NoNewPrivileges=yes' 'PrivateTmp=yes' \
  'ProtectHome=yes' 'LimitNOFILE=' \
  'ExecStart=/usr/bin/siteledgerd --config /etc/siteledger/siteledgerd.conf'; do
  grep -q "^$setting" "$unit" || fail "the unit lacks $setting"
done
postinst=$(dpkg-deb -I "$deb" postinst) || fail "no postinst"
grep -q 'adduser --system' <<<"$postinst" ||
  fail "postinst does not create the siteledger user"

echo "== systemd-analyze verify"
# Against a root made of the extracted package over the host's own units
# and /bin/kill (ExecReload): verify follows the unit's dependencies
# (sysinit.target, network-online.target, ...) and checks that every
# command exists, both inside --root. The package's files win over the
# host's. Any output is a finding (verify's exit status misses some
# warnings).
vroot="$scratch/verify-root"
mkdir -p "$vroot/lib/systemd/system" "$vroot/bin"
cp -a /lib/systemd/system/. "$vroot/lib/systemd/system/"
cp -L /bin/kill "$vroot/bin/kill"
cp -a "$root/." "$vroot/"
verify_out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --root="$vroot" \
  /lib/systemd/system/siteledgerd.service 2>&1) ||
  fail "systemd-analyze verify: $verify_out"
if [ -n "$verify_out" ]; then
  echo "$verify_out" >&2
  fail "systemd-analyze verify has findings"
fi
echo "no findings"
# The hardening, scored by systemd (0 best, 10 worst): the unit stays at
# "OK" or better (1.4 when written; --threshold counts tenths).
security_out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze security --offline=yes \
  --threshold=20 --root="$vroot" /lib/systemd/system/siteledgerd.service 2>&1) || {
  echo "$security_out" >&2
  fail "systemd-analyze security: exposure above 2.0"
}
grep 'Overall exposure' <<<"$security_out"

echo "== siteledgerd --help and a bad config line"
help=$("$root/usr/bin/siteledgerd" --help) || fail "--help exits non-zero"
grep -q -- '--config FILE' <<<"$help" || fail "--help does not list --config"
printf 'data = %s\ntenant-rate = lots\n' "$scratch/bad" >"$scratch/bad.conf"
set +e
bad_out=$("$root/usr/bin/siteledgerd" --config "$scratch/bad.conf" 2>&1)
bad_rc=$?
set -e
[ $bad_rc -eq 2 ] || fail "a bad config line exits $bad_rc, not 2"
[[ "$bad_out" == *"$scratch/bad.conf:2: --tenant-rate"* ]] ||
  fail "the error does not name file and line: $bad_out"

echo "== start the extracted siteledgerd"
conf="$root/etc/siteledger/siteledgerd.conf"
grep -q '^data = /var/lib/siteledger/us$' "$conf" ||
  fail "the packaged config's data is not /var/lib/siteledger/us"
mkdir -p "$scratch/data"
"$root/usr/bin/siteledgerd" --config "$conf" --data "$scratch/data/us" \
  --listen 127.0.0.1:0 2>"$scratch/server.log" &
server_pid=$!
port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*"msg":"serving".*"port":\([0-9]*\).*/\1/p' \
    "$scratch/server.log")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || {
    cat "$scratch/server.log" >&2
    fail "siteledgerd exited at start"
  }
  sleep 0.1
done
[ -n "$port" ] || {
  cat "$scratch/server.log" >&2
  fail "siteledgerd did not log serving"
}
grep -q "\"data\":\"$scratch/data/us\"" "$scratch/server.log" ||
  fail "--data did not win over the config file"
[ -d "$scratch/data/us" ] || fail "no data folder made at $scratch/data/us"
for path in /healthz /readyz; do
  code=$(curl -s -o "$scratch/body" -w '%{http_code}' \
    "http://127.0.0.1:$port$path") || code=000
  [ "$code" = 200 ] || fail "GET $path answered $code: $(cat "$scratch/body")"
  echo "GET $path: $code"
done
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
[ $rc -eq 0 ] || fail "siteledgerd exited $rc after SIGTERM"

echo "== log lines: time, level, msg first; --log-level filters"
# Every line of the run above begins with the stable fields, in order.
if grep -qv '^{"time":"[0-9T:.-]*Z","level":"\(debug\|info\|warn\|error\)","msg":"' \
  "$scratch/server.log"; then
  cat "$scratch/server.log" >&2
  fail "a log line does not begin with time, level, msg"
fi
grep -q '"level":"info","msg":"stopped"' "$scratch/server.log" ||
  fail "no stopped line at info"
"$root/usr/bin/siteledgerd" --config "$conf" --data "$scratch/data/us" \
  --rebuild-views --log-level error 2>"$scratch/quiet.log" ||
  fail "--rebuild-views failed"
if grep -q '"level":"info"' "$scratch/quiet.log"; then
  fail "--log-level error still wrote info lines"
fi
"$root/usr/bin/siteledgerd" --config "$conf" --data "$scratch/data/us" \
  --rebuild-views 2>"$scratch/loud.log" || fail "--rebuild-views failed"
grep -q '"level":"info","msg":"rebuilt the views"' "$scratch/loud.log" ||
  fail "no info line at the default level"

echo "PASS"
