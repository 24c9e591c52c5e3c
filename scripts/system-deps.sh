#!/usr/bin/env bash
# system-deps.sh installs the Debian packages a purpose needs, and only those that are missing.
# Usage: scripts/system-deps.sh test|bench|all
# The project installs what it needs itself: a clean machine (or CI) runs this before tests
# or the benchmark, so nothing has to be installed by hand. Needs root (apt-get), as CI is.
set -euo pipefail

purpose=${1:-all}
case "$purpose" in
  test)  cmds=(curl openssl) ; pkgs=(curl openssl) ;;
  # bench: openssl makes the bench's TLS certificates; h2load (nghttp2-client) drives the HTTP/2
  # rows, hey the fixed-rate latency rows; haproxy is also the upstream of the mTLS rows.
  bench) cmds=(curl openssl nginx haproxy wrk h2load hey) ; pkgs=(curl openssl nginx-light haproxy wrk nghttp2-client hey) ;;
  all)   cmds=(curl openssl nginx haproxy wrk h2load hey) ; pkgs=(curl openssl nginx-light haproxy wrk nghttp2-client hey) ;;
  *) echo "usage: $0 test|bench|all" >&2; exit 2 ;;
esac

missing=()
for i in "${!cmds[@]}"; do
  c=${cmds[$i]}
  # nginx and haproxy live in /usr/sbin, which a non-login PATH may lack.
  if ! command -v "$c" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$c" ]; then
    missing+=("${pkgs[$i]}")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != "0" ]; then
  echo "system-deps: missing ${missing[*]}; run as root or install them with apt-get" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# The packages' own services must not start on install (they would hold ports 80 and 8080).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
