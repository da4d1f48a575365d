#!/usr/bin/env bash
# Sets up, builds and serves on the embedded default (no config). Extra args go to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/switchyard serve "$@"
