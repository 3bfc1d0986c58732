#!/usr/bin/env bash
# Runs the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (everything
# that runs in-process: core, servers' stores and services, fuzz smoke runs), then the
# concurrent core under ThreadSanitizer. Separate build trees: build-asan/, build-tsan/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
unit='vfs_test|vfs_threads_test|meta_store_test|chunk_store_test|service_test|path_routing_test|path_fuzz_smoke|record_fuzz_smoke'

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMYFS_SANITIZE=address >/dev/null
cmake --build build-asan -j"$(nproc)" --target vfs_test vfs_threads_test meta_store_test chunk_store_test \
  service_test path_routing_test path_fuzz_smoke record_fuzz_smoke
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 MYFS_FUZZ_RUNS=50000 \
  ctest --output-on-failure -R "$unit")

cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMYFS_SANITIZE=thread >/dev/null
cmake --build build-tsan -j"$(nproc)" --target vfs_threads_test vfs_test
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R 'vfs_threads_test|vfs_test')
