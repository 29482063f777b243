#!/usr/bin/env bash
# Installs the system packages drainwatch needs, where missing. Idempotent: a second run changes nothing.
#   nats-server, redis-server  runtime dependencies (every mode, tests included)
#   prometheus                 promtool checks and the end-to-end dashboard test
#   nginx                      the agent benchmark's reference proxy and a rehearsal entry point
#   haproxy                    a rehearsal entry point (rehearse --entry haproxy)
#   wrk                        the agent benchmark's load generator (C, one thread; autocannon otherwise)
#   nghttp2-client, time       the agent benchmark's gRPC row: h2load (h2c load) and /usr/bin/time (its CPU)
#   chromium                   the timeline page's browser test and bench (driven by playwright-core)
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have nats-server  || need+=(nats-server)
have redis-server || need+=(redis-server)
have promtool     || need+=(prometheus)
have nginx        || need+=(nginx)
have haproxy      || need+=(haproxy)
have wrk          || need+=(wrk)
have h2load       || need+=(nghttp2-client)
[ -x /usr/bin/time ] || need+=(time)
have chromium     || need+=(chromium)

if ! have node; then
  echo "setup: Node.js 20.19+ is required (https://nodejs.org or your distribution's nodejs package)." >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup: Node.js $(node --version) is too old; drainwatch needs 20.19 or newer." >&2
  exit 1
fi

if [ ${#need[@]} -eq 0 ]; then
  echo "setup: system packages present (nats-server, redis-server, prometheus, nginx, haproxy, wrk, h2load, time, chromium)"
  exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${need[*]} with apt-get"
  $SUDO apt-get update -qq
  # The packages' own services are not wanted: tests and rehearsals start their own on free ports.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  echo "setup: installed ${need[*]}"
else
  echo "setup: this is not Debian/Ubuntu; install these yourself and put them on PATH: ${need[*]}" >&2
  echo "setup: (nats-server from https://nats.io, redis-server from https://redis.io, prometheus/promtool, nginx, haproxy, wrk, nghttp2-client (h2load), time, chromium)" >&2
  exit 1
fi
