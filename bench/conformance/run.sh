#!/usr/bin/env bash
# Runs the HTTP caching test suite http-tests/cache-tests (https://cache-tests.fyi)
# through Meridian's edge cache and prints a summary.
#
#   bench/conformance/run.sh [SUITE_DIR]
#
# SUITE_DIR (or $CACHE_TESTS) is a checkout of https://github.com/http-tests/cache-tests;
# without one the script clones it into the work directory. Needs go, node (>= 18), npm.
#
# What it does: builds meridian, starts the suite's origin server on $ORIGIN_PORT, starts
# `meridian serve` with its state in a fresh work directory, creates an internet NEG for
# the origin, a CDN-enabled backend service (USE_ORIGIN_HEADERS), a URL map, a target
# HTTP proxy and a forwarding rule on port 80 (served on $EDGE_PORT), checks one request
# through the edge, runs the suite's CLI against the edge and summarises the results.
# Everything it starts is stopped on exit.
#
# Environment:
#   CACHE_TESTS   the suite's directory (instead of the argument)
#   WORK          work directory (default: a new directory under /tmp)
#   RESULTS       where the JSON results go (default: $WORK/results.json)
#   ORIGIN_PORT   the suite's server port (default 8000)
#   EDGE_PORT     the local port the forwarding rule's port 80 is served on (default 18080)
#   TEST_ID       run only this test, with the suite's request/response dump
#   CDN_FLAGS     extra flags for `backend-services create`, e.g. "--serve-while-stale=0"
#   KEEP=1        leave meridian and the origin running after the run (Ctrl-C to stop)
#   MERIDIAN_REV  build this commit (git archive into the work directory) instead of the
#                 working tree, e.g. MERIDIAN_REV=HEAD, so edits in progress do not leak in
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
suite=${1:-${CACHE_TESTS:-}}
work=${WORK:-$(mktemp -d /tmp/meridian-cache-tests.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
results=${RESULTS:-$work/results.json}
origin_port=${ORIGIN_PORT:-8000}
edge_port=${EDGE_PORT:-18080}

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for tool in go node npm curl; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

# --- the suite ---------------------------------------------------------------------
if [[ -z "$suite" ]]; then
  suite=$work/cache-tests
  if [[ ! -d "$suite" ]]; then
    say "cloning http-tests/cache-tests into $suite"
    git clone --depth=1 https://github.com/http-tests/cache-tests "$suite"
  fi
fi
suite=$(cd "$suite" && pwd)
[[ -f "$suite/test-engine/cli.mjs" ]] || die "$suite is not a cache-tests checkout (no test-engine/cli.mjs)"
if [[ ! -d "$suite/node_modules/undici" ]]; then
  say "npm install in $suite"
  (cd "$suite" && npm install --no-audit --no-fund >"$work/npm-install.log" 2>&1) || die "npm install failed, see $work/npm-install.log"
fi

# --- processes we start, stopped on exit ----------------------------------------------
origin_pid=
meridian_pid=
cleanup() {
  local rc=$?
  if [[ -n "$meridian_pid" ]] && kill -0 "$meridian_pid" 2>/dev/null; then
    say "stopping meridian ($meridian_pid)"
    kill -INT "$meridian_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$meridian_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$meridian_pid" 2>/dev/null || true
  fi
  if [[ -n "$origin_pid" ]] && kill -0 "$origin_pid" 2>/dev/null; then
    say "stopping the test server ($origin_pid)"
    kill "$origin_pid" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# --- build ---------------------------------------------------------------------------
if [[ -n "${MERIDIAN_REV:-}" ]]; then
  rev=$(git -C "$repo" rev-parse --short "$MERIDIAN_REV")
  say "building meridian at $rev"
  rm -rf "$work/src" && mkdir -p "$work/src"
  git -C "$repo" archive "$rev" | tar -x -C "$work/src"
  (cd "$work/src" && go build -o "$work/meridian" ./cmd/meridian)
else
  rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -n "$(git -C "$repo" status --porcelain -- internal cmd api go.mod go.sum 2>/dev/null)" ]] && rev="$rev+dirty"
  say "building meridian from the working tree ($rev)"
  (cd "$repo" && go build -o "$work/meridian" ./cmd/meridian)
fi
echo "$rev" >"$work/meridian.rev"
meridian=$work/meridian

# --- the suite's origin server -------------------------------------------------------
port_free 127.0.0.1 "$origin_port" || die "port $origin_port is in use (set ORIGIN_PORT)"
say "starting the test server on :$origin_port"
(cd "$suite" && exec env npm_package_config_protocol=http npm_package_config_port="$origin_port" \
  npm_package_config_pidfile="$work/origin.pid" node test-engine/server/server.mjs) >"$work/origin.log" 2>&1 &
origin_pid=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$origin_port/" && break
  kill -0 "$origin_pid" 2>/dev/null || die "the test server exited: $(cat "$work/origin.log")"
  sleep 0.1
done

# --- meridian --------------------------------------------------------------------------
export MERIDIAN_CONFIG=$work/config.json MERIDIAN_PROJECT= MERIDIAN_API_TOKEN= MERIDIAN_API_ENDPOINT=
rm -rf "$work/data" "$work/setup.log" "$work/meridian.log" # a fresh control plane every run
say "starting meridian serve (state in $work/data, edge :80 on :$edge_port)"
HOME=$work "$meridian" serve --data-dir="$work/data" --api-listen=127.0.0.1:0 --port-map="80:$edge_port" \
  --request-log="$work/requests.log" >"$work/meridian.log" 2>&1 &
meridian_pid=$!
api=
for _ in $(seq 1 600); do
  api=$(sed -n 's/^API listening on //p' "$work/meridian.log" | head -1)
  [[ -n "$api" ]] && break
  kill -0 "$meridian_pid" 2>/dev/null || die "meridian exited: $(cat "$work/meridian.log")"
  sleep 0.1
done
[[ -n "$api" ]] || die "meridian printed no API address within 60s"
export MERIDIAN_API_ENDPOINT=$api
say "API at $api"

m() { "$meridian" "$@" >>"$work/setup.log" 2>&1 || die "meridian $* failed: $(tail -5 "$work/setup.log")"; }
m compute network-endpoint-groups create origin --global --network-endpoint-type=internet-ip-port
m compute network-endpoint-groups update origin --global --add-endpoint="ip=127.0.0.1,port=$origin_port"
# shellcheck disable=SC2086
m compute backend-services create cache-tests --global --load-balancing-scheme=EXTERNAL_MANAGED \
  --enable-cdn --cache-mode=USE_ORIGIN_HEADERS ${CDN_FLAGS:-}
m compute backend-services add-backend cache-tests --global --network-endpoint-group=origin --global-network-endpoint-group
m compute url-maps create cache-tests --default-service=cache-tests
m compute target-http-proxies create cache-tests --url-map=cache-tests
m compute forwarding-rules create cache-tests --global --target-http-proxy=cache-tests --ports=80 \
  --load-balancing-scheme=EXTERNAL_MANAGED
addr=$("$meridian" compute forwarding-rules describe cache-tests --global --format='value(IPAddress)')
base=http://$addr:$edge_port
"$meridian" compute backend-services describe cache-tests --global --format=json >"$work/backend-service.json"

say "waiting for the edge at $base"
ok=
for _ in $(seq 1 200); do
  if curl -s -D "$work/check.headers" -o /dev/null "$base/index.html" 2>/dev/null &&
     grep -qi '^cache-status:' "$work/check.headers"; then ok=1; break; fi
  sleep 0.1
done
[[ -n "$ok" ]] || die "no response with Cache-Status through $base (see $work/meridian.log)"
say "edge answers: $(tr -d '\r' <"$work/check.headers" | grep -iE '^(HTTP|cache-status|via)' | paste -sd' ' -)"

# --- the suite --------------------------------------------------------------------------
cli() {
  (cd "$suite" && env npm_config_base="$base" npm_package_config_base="$base" \
    npm_config_id="${TEST_ID:-}" npm_package_config_id="${TEST_ID:-}" node --no-warnings test-engine/cli.mjs)
}
if [[ -n "${TEST_ID:-}" ]]; then
  cli
else
  say "running the suite against $base (takes a few minutes)"
  start=$(date +%s)
  cli >"$results.tmp" 2>"$work/cli.stderr" || die "the suite's CLI failed: $(tail -5 "$work/cli.stderr")"
  mv "$results.tmp" "$results"
  say "done in $(( $(date +%s) - start ))s; results in $results"
  [[ -s "$work/cli.stderr" ]] && say "the CLI reported errors: $work/cli.stderr ($(wc -l <"$work/cli.stderr") lines)"
  echo "meridian $rev, cache-tests $(git -C "$suite" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  node "$here/summary.mjs" "$suite" "$results" --compare --list
fi

if [[ "${KEEP:-}" == 1 ]]; then
  say "edge at $base, API at $api, MERIDIAN_CONFIG=$MERIDIAN_CONFIG; Ctrl-C stops everything"
  wait "$meridian_pid"
fi
