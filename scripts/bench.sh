#!/usr/bin/env bash
# The benchmark: metadata (create/stat/readdir/unlink of FILES files in one directory,
# 1 and 2 threads), data (MIB MiB sequential write+fsync and read, 4 KiB random reads),
# each on a native tmpfs directory and on /myfs under libmyfs.so in the same run, plus
# the floors: a plain loopback socket round trip and a null Cap'n Proto call; then the
# library's cost for programs that do not use /myfs: per exec (SPAWNS runs of /bin/true)
# and per kernel call it passes through (shim_bench, Google Benchmark).
# The 1-thread uncached operations are also measured in ROUNDS rounds, each against a
# null call made just before it to the shard holding the round's directory.
#   FILES=10000 MIB=1024 ROUNDS=5 bash scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FILES="${FILES:-10000}"
MIB="${MIB:-1024}"
ROUNDS="${ROUNDS:-5}"
bash scripts/build.sh >/dev/null
bin="$PWD/${MYFS_BUILD_DIR:-build}/bin"
# The servers keep their data on tmpfs too, so that the ratios measure myfs, not a disk.
cluster="$(mktemp -d /dev/shm/myfs-bench-cluster.XXXXXX)"
native="$(mktemp -d /dev/shm/myfs-bench.XXXXXX)"
trap '"$bin/myfs" down --dir "$cluster" >/dev/null 2>&1 || true; rm -rf "$cluster" "$native"' EXIT
"$bin/myfs" up --dir "$cluster" >/dev/null
export $(cat "$cluster/cluster.env")
results="$cluster/results"
# CPU time (user + system) all servers have used so far, in microseconds.
server_cpu_us() {
  local total=0 pid
  for pid in $(awk '{print $3}' "$cluster/servers"); do
    total=$(( total + $(awk '{print $14 + $15}' "/proc/$pid/stat") ))
  done
  echo $(( total * 1000000 / $(getconf CLK_TCK) ))
}
{
  echo "files $FILES n"
  "$bin/myfs_bench" floor
  "$bin/myfs_bench" rpc
  # The uncached-operation targets are ratios to a null call to the same server, and this
  # VM drifts by more than the margin between runs a minute apart: ROUNDS times a null
  # call to the shard holding the directory the round works in (made beforehand), then
  # the 1-thread medians right after it, each round its own ratio (median of rounds below).
  for round in $(seq 1 "$ROUNDS"); do
    "$bin/myfs" run -- mkdir -p "/myfs/round$round/meta-1"
    ino=$("$bin/myfs" run -- stat -c %i "/myfs/round$round/meta-1")
    "$bin/myfs_bench" null "$ino" | sed "s/^/r${round}_/"
    "$bin/myfs" run -- "$bin/myfs_bench" meta "/myfs/round$round" "$FILES" 1 | grep '_p50 ' | sed "s/^/r${round}_myfs_/"
  done
  for t in 1 2 8; do
    "$bin/myfs_bench" meta "$native" "$FILES" "$t" | sed 's/^/native_/'
    before=$(server_cpu_us)
    "$bin/myfs" run -- "$bin/myfs_bench" meta /myfs "$FILES" "$t" | sed 's/^/myfs_/'
    echo "server_cpu_meta_t$t $(( $(server_cpu_us) - before )) us"
  done
  "$bin/myfs_bench" data "$native" "$MIB" | sed 's/^/native_/'
  "$bin/myfs" run -- "$bin/myfs_bench" data /myfs "$MIB" | sed 's/^/myfs_/'
} > "$results"
awk '
  { v[$1] = $2; u[$1] = $3; order[n++] = $1 }
  END {
    printf "floor: loopback round trip, unix socket %.1f us (%.1f us with both ends on one CPU), TCP %.1f us\n",
      v["rtt_unix"], v["rtt_unix_same_cpu"], v["rtt_tcp"]
    printf "       null Cap\x27n Proto call to metadata shard 0: %.1f us (%.1fx the unix round trip)\n",
      v["rpc_null_call"], v["rpc_null_call"] / v["rtt_unix"]
    # Per round: median of the operation / median null call of the same round.
    for (r = 1; (("r" r "_rpc_null_call") in v); r++) rounds = r
    if (rounds > 0) {
      printf "1 thread, median against a null call to the directory\x27s shard just before, median of %d rounds (each round):\n", rounds
      split("create stat unlink mkdir", opnames, " ")
      for (o = 1; o <= 4; o++) {
        m = 0; line = ""
        for (r = 1; r <= rounds; r++) {
          x[r] = v["r" r "_myfs_" opnames[o] "_t1_p50"] / v["r" r "_rpc_null_call"]
          line = line sprintf(" %.2f", x[r])
        }
        for (i = 2; i <= rounds; i++) {  # insertion sort (mawk has no asort)
          y = x[i]
          for (j = i - 1; j >= 1 && x[j] > y; j--) x[j + 1] = x[j]
          x[j + 1] = y
        }
        printf "  %-7s %.2fx  (%s )\n", opnames[o], x[int((rounds + 1) / 2)], line
      }
    }
    printf "%-24s %14s %14s %10s %14s\n", "workload", "native tmpfs", "myfs", "myfs/native", "us/op on myfs"
    for (i = 0; i < n; i++) {
      k = order[i]
      if (k !~ /^myfs_/ || k ~ /_cpu$/ || k ~ /_p50$/) continue
      w = substr(k, 6)
      nat = v["native_" w]; my = v[k]
      ratio = (u[k] == "us/op") ? nat / my : my / nat
      usop = (u[k] == "ops/s" || u[k] == "entries/s") ? sprintf("%.1f (%.2fx RPC)", 1e6 / my, (1e6 / my) / v["rpc_null_call"]) : ""
      if ((k "_p50") in v && v[k "_p50"] > 5) usop = usop sprintf("; median %.1f (%.2fx RPC)", v[k "_p50"], v[k "_p50"] / v["rpc_null_call"])
      printf "%-24s %10.1f %-5s %10.1f %-5s %8.3f %s\n", w, nat, u[k], my, u[k], ratio, usop
    }
    # Metadata CPU cost per operation: the client process per phase, the servers over
    # the whole run of each thread count divided by its create, stat, unlink and mkdir
    # operations (the cached phases never reach them).
    printf "CPU per metadata operation on myfs (us): client create/stat/stat_cached/unlink/mkdir, servers per op of the run\n"
    for (t = 1; t <= 8; t *= 2) {
      if (!(("myfs_create_t" t "_cpu") in v)) continue
      f = v["files"]
      ops = f * 3 + f / 4  # create, stat, unlink, mkdir: the phases that reach a server
      printf "  %d thread%s: client %.1f / %.1f / %.2f / %.1f / %.1f   servers %.1f\n", t, t == 1 ? " " : "s",
        v["myfs_create_t" t "_cpu"], v["myfs_stat_t" t "_cpu"], v["myfs_stat_cached_t" t "_cpu"],
        v["myfs_unlink_t" t "_cpu"], v["myfs_mkdir_t" t "_cpu"], v["server_cpu_meta_t" t] / ops
    }
  }' "$results"

# Start-up: a program that never touches /myfs, with and without the library.
spawns="${SPAWNS:-1000}"
plain=$("$bin/myfs_bench" spawn "$spawns" | awk '{print $2}')
shimmed=$(LD_PRELOAD="$bin/libmyfs.so" "$bin/myfs_bench" spawn "$spawns" | awk '{print $2}')
awk -v n="$spawns" -v p="$plain" -v s="$shimmed" \
  'BEGIN { printf "exec of /bin/true (%d runs): %.0f us plain, %.0f us with libmyfs.so: %+.0f us per exec\n", n, p, s, s - p }' 

# The shim's cost on calls it passes to the kernel (Google Benchmark), per call.
if [ -x "$bin/shim_bench" ]; then
  # A system call costs about 1 us here and moves by 10% between runs, ten times the
  # shim's cost: the three setups run in turn, five rounds, and each keeps its fastest
  # round (the one least disturbed by the rest of the machine).
  run_shim() { "$@" "$bin/shim_bench" --benchmark_format=csv --benchmark_min_time=0.1 2>/dev/null | awk -F, 'NR > 1 { gsub(/"/, "", $1); print $1, $3 }'; }
  for round in 1 2 3 4 5; do
    run_shim env >> "$cluster/shim_plain_all"
    run_shim env LD_PRELOAD="$bin/libmyfs.so" >> "$cluster/shim_idle_all"
    run_shim env LD_PRELOAD="$bin/libmyfs.so" SHIM_BENCH_TOUCH=/myfs >> "$cluster/shim_loaded_all"
  done
  for setup in plain idle loaded; do
    awk '!($1 in m) || $2 < m[$1] { m[$1] = $2 } END { for (k in m) print k, m[k] }' "$cluster/shim_${setup}_all" | sort > "$cluster/shim_$setup"
  done
  echo "shim overhead on kernel calls (ns per call: plain, +shim idle, +shim with the client started)"
  join "$cluster/shim_plain" "$cluster/shim_idle" | join - "$cluster/shim_loaded" |
    awk '{ printf "  %-18s %7.0f %+7.0f %+7.0f", $1, $2, $3 - $2, $4 - $2
           # BM_OpenClose times two calls (open, then close).
           if ($1 ~ /OpenClose/) printf "   per call: %+.0f %+.0f", ($3 - $2) / 2, ($4 - $2) / 2
           printf "\n" }'
fi

# The same cost in instructions (callgrind counts them; load does not move the count):
# (calls with N rounds - calls with none) / (3 N), with and without the library.
if command -v valgrind >/dev/null && [ -x "$bin/passthrough_calls" ]; then
  count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | awk '/Collected/ { print $4 }'; }
  rounds=100000
  p0=$(count "$bin/passthrough_calls" 0); pn=$(count "$bin/passthrough_calls" $rounds)
  s0=$(LD_PRELOAD="$bin/libmyfs.so" count "$bin/passthrough_calls" 0)
  sn=$(LD_PRELOAD="$bin/libmyfs.so" count "$bin/passthrough_calls" $rounds)
  awk -v p0="$p0" -v pn="$pn" -v s0="$s0" -v sn="$sn" -v n="$rounds" 'BEGIN {
    plain = (pn - p0) / (3 * n); shim = (sn - s0) / (3 * n)
    printf "instructions per pass-through call (read, fstat, lseek): %.1f plain, %.1f with libmyfs.so: %+.1f; library start-up %+d\n", plain, shim, shim - plain, s0 - p0 }'
fi
