#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit, RPC,
# integration with real servers and real programs). Exit status 0 when all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd "${MYFS_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j"${MYFS_TEST_JOBS:-2}"
