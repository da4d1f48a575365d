#!/usr/bin/env bash
# Sets up (idempotent), builds and runs the whole test suite under CTest: unit, integration,
# e2e (official SDKs via Node.js) and the labelled slow subset.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@"
