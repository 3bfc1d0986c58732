#!/usr/bin/env bash
# Builds myfs, starts a local cluster (2 metadata shards, 2 data servers) and runs
# real, unmodified programs on /myfs, then shows where the data went and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
bin="$PWD/${MYFS_BUILD_DIR:-build}/bin"
dir="$(mktemp -d /tmp/myfs-demo.XXXXXX)"
trap '"$bin/myfs" down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

"$bin/myfs" up --dir "$dir"
run() { echo "+ $*"; "$bin/myfs" run --dir "$dir" -- bash -c "$*"; }

run 'mkdir -p /myfs/demo && echo "written by bash" > /myfs/demo/note && seq 1 5 | sort -r > /myfs/demo/nums'
run 'cat /myfs/demo/note /myfs/demo/nums | tr "\n" " "; echo'
run 'mkdir -p /myfs/demo/src && cp -r /usr/include/linux /myfs/demo/src/ && ls /myfs/demo/src | head -3'
run 'tar -C /myfs/demo -czf /myfs/demo/linux.tgz src && ls -l /myfs/demo'
run 'mkdir /myfs/demo/x && tar -C /myfs/demo/x -xzf /myfs/demo/linux.tgz && diff -r /usr/include/linux /myfs/demo/x/src/linux && echo "tar round trip: identical"'
run 'find /myfs/demo -name "*.h" | wc -l; du -sh /myfs/demo'
run 'python3 -c "import os; print(sum(len(f) for _, _, f in os.walk(\"/myfs/demo\")), \"files seen by python\")"'
run 'mv /myfs/demo/x /myfs/demo/y && rm -r /myfs/demo/y && ls /myfs/demo'
run 'cd /myfs/demo && git init -q repo && cd repo && cp /myfs/demo/note . && git add note && git -c user.name=demo -c user.email=demo@example.invalid commit -qm "first commit on myfs" && git log --oneline'
run 'cd /myfs/demo && printf "#include <stdio.h>\nint main(void) { puts(\"compiled and run on myfs\"); return 0; }\n" > hello.c && gcc -o hello hello.c && ./hello'
run 'cd /myfs/demo && (echo one; echo two) > both && exec 3>> both && sh -c "echo three >&3" && cat both | tr "\n" " "; echo'
run 'cd /myfs/demo && for w in 1 2; do sqlite3 -cmd ".timeout 10000" db.sqlite "create table if not exists t (w int); insert into t values ($w);" & done; wait; sqlite3 db.sqlite "select count(*) from t; pragma integrity_check;" | tr "\n" " "; echo'
run 'cd /myfs/demo && flock -n note -c "flock -n note true || echo \"note is locked by the first flock\""'
echo "+ myfs status"
"$bin/myfs" status --dir "$dir"
