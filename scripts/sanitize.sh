#!/usr/bin/env bash
# Runs the in-process tests under AddressSanitizer + UndefinedBehaviorSanitizer (core,
# the servers' stores and services, the RPC client, fuzz smoke runs), then the concurrent
# core under ThreadSanitizer. Separate build trees: build-asan/, build-tsan/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
asan_tests=(vfs_test vfs_threads_test meta_store_test deferred_mkdir_test ordered_memtable_test chunk_store_test service_test lock_table_test lease_table_test xattr_test convert_test
            rpc_cluster_test delegation_test coalescing_stream_test socket_stream_test page_message_stream_test inode_cache_test
            path_routing_test
            path_fuzz_smoke record_fuzz_smoke)
tsan_tests=(vfs_threads_test vfs_test rpc_cluster_test delegation_test service_test ordered_memtable_test)

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMYFS_SANITIZE=address >/dev/null
cmake --build build-asan -j"$(nproc)" --target "${asan_tests[@]}"
for t in "${asan_tests[@]}"; do
  echo "== asan+ubsan: $t"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 MYFS_FUZZ_RUNS=50000 "build-asan/bin/$t" >"build-asan/$t.log" 2>&1 ||
    { tail -40 "build-asan/$t.log"; exit 1; }
  grep -E "^\[  PASSED|^\[  FAILED" "build-asan/$t.log" || echo "ok"
done

cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMYFS_SANITIZE=thread >/dev/null
cmake --build build-tsan -j"$(nproc)" --target "${tsan_tests[@]}"
for t in "${tsan_tests[@]}"; do
  echo "== tsan: $t"
  TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp" "build-tsan/bin/$t" >"build-tsan/$t.log" 2>&1 ||
    { tail -60 "build-tsan/$t.log"; exit 1; }
  grep -E "^\[  PASSED|^\[  FAILED" "build-tsan/$t.log"
done
