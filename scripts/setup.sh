#!/usr/bin/env bash
# Installs everything the build, the tests and the benchmarks need. Idempotent.
# System packages come from Debian (apt-get, as root); the npm packages used by the
# client tests are pinned in package.json + package-lock.json and installed with `npm install`
# (not `npm ci`: the registry here lacks node-llama-cpp's optional mac/win/riscv prebuilt
# packages, so the lock cannot list them and `npm ci` refuses it; `npm install` installs
# exactly the locked tree and leaves the lock untouched).
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev
  wrk nginx-light curl procps openssl afl++ libvectorscan-dev
  postgresql libpq-dev redis-server libhiredis-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Client SDKs for the end-to-end tests (the machine's Node.js 20; never Debian's npm).
if command -v npm >/dev/null 2>&1; then
  if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm install --no-audit --no-fund --loglevel=error
    touch node_modules/.package-lock.json
  fi
else
  echo "setup: node/npm not found; end-to-end client tests will be skipped" >&2
fi
