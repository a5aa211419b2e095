#!/usr/bin/env bash
# The test command (README, .ci/run): installs missing system packages, then runs every test.
# Tests read only committed fixtures: no Python, no network.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build --build-tests
swift test --skip-build --parallel "$@"
