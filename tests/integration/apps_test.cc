// Real applications on /myfs: each test runs one bash script on a native temporary
// directory (the reference) and under libmyfs.so against a real cluster, with $R the
// directory, and expects the same exit status and output (the root path replaced by $R).
// The scripts print no inode numbers, no times they did not set themselves and no
// directory sizes, so nothing else needs normalizing.
//
// programs_test.cc covers the basics (coreutils on single files, tar -czf of a copied
// tree, git, make and gcc, stdio); these go further: shell fd plumbing, cp -a and rsync
// with metadata, large files, find/xargs, Python, sqlite, MPI.
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>

#include "tests/integration/cluster.h"

namespace myfs::testing {
namespace {

class AppsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new Cluster(2, 2); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void expectSameAsNative(const std::string& name, const std::string& script, int timeoutSec = 180) {
    testing::expectSameAsNative(*cluster_, name, script, "", timeoutSec);
  }

  static Cluster* cluster_;
};

Cluster* AppsTest::cluster_ = nullptr;

// ---------------------------------------------------------------------------------
// bash

TEST_F(AppsTest, BashRedirectionsPipesCdGlobsAndHereDocs) {
  expectSameAsNative("bash", R"SH(
    cd $R && mkdir -p a/b/c && cd a/b && cd c && pwd && cd ../.. && pwd && cd ./b/../b/c && pwd
    cd - >/dev/null && pwd && cd .. && pwd && cd $R
    echo one > f && echo two >> f && cat f && wc -l < f
    cat < f | tr a-z A-Z | tee up | sed "s/^/> /" && cat up
    ls nothere 2> err; echo "ls=$?"; cat err
    { echo out; echo err >&2; } > both 2>&1 && sort both
    { echo x; /bin/echo y >&2; } &> amp && sort amp
    /bin/echo appended >> amp && cat amp | wc -l
    cat <<EOT > heredoc
sum $((2 + 3)) in ${PWD#$R}/
EOT
    cat <<'EOT' >> heredoc
literal $PWD
EOT
    cat heredoc
    tr a-z A-Z <<< "here string" > hs && cat hs
    touch g1.c g2.c h.txt a/x.c && echo *.c && echo g?.c && echo [gh]*.txt && echo */*.c && ls *.c | wc -l
    for p in a/*; do echo "glob $p"; done
    shopt -s nullglob && echo none: *.zzz && shopt -u nullglob
    shopt -s globstar && echo **/*.c && shopt -u globstar
    echo data > "name with spaces" && cat name\ with\ spaces && ls
    set -o noclobber; echo x > f; echo "noclobber=$?"; echo y >| f; cat f; set +o noclobber
    while read -r l; do echo "got $l"; done < heredoc
    exec 4< heredoc; read -r first <&4; echo "first: $first"; exec 4<&-
    echo $(cat f) "$(wc -c < heredoc)"
    diff <(seq 1 3) <(seq 1 3) && echo procsub
    cat > ps.out < <(seq 1 3) && cat ps.out && tee ps2.out < <(seq 4 5) > /dev/null && cat ps2.out
    cd a && echo rel > ../rel.txt && cd .. && cat rel.txt && cat ./a/../rel.txt
  )SH");
}

// Builtins writing to an fd the shell opened: all in one process, one offset.
TEST_F(AppsTest, BashBuiltinsWriteThroughAnExtraFd) {
  expectSameAsNative("fd3", R"SH(
    exec 3> $R/f; echo a >&3; echo b >&3; printf '%s\n' c >&3; exec 3>&-; cat $R/f
    exec 3>> $R/f; echo d >&3; exec 3>&-; cat $R/f
    exec 5<> $R/rw; echo hello >&5; exec 5>&-; cat $R/rw
    exec 4< $R/f; read -r x <&4; read -r y <&4; exec 4<&-; echo "$x$y"
  )SH");
}

// Programs exec'd by the shell write and read through fds 3 and 4 they inherited.
TEST_F(AppsTest, ExecdProgramsInheritFdsAbove2) {
  expectSameAsNative("inherit", R"SH(
    printf 'in1\nin2\n' > $R/in
    exec 3> $R/f; sh -c 'echo c >&3; echo d >&3'; exec 3>&-; cat $R/f
    exec 4< $R/in; sh -c 'read -r l <&4; echo "child read $l"'; read -r m <&4; echo "then parent read $m"; exec 4<&-
    exec 3> $R/g; python3 -c 'import os; os.write(3, b"from python\n")'; exec 3>&-; cat $R/g
    exec 3> $R/h; echo p1 >&3; sh -c 'echo c1 >&3'; echo p2 >&3; python3 -c 'import os; os.write(3, b"c2\n")'; echo p3 >&3; exec 3>&-; cat $R/h
  )SH");
}

TEST_F(AppsTest, SubshellsGroupsAndBashDashCShareTheirRedirection) {
  expectSameAsNative("subshell", R"SH(
    (echo a; echo b) > $R/s1; cat $R/s1
    (echo a; /bin/echo b; echo c) > $R/s2; cat $R/s2
    { /bin/echo a; /bin/echo b; echo c; } > $R/s3; cat $R/s3
    for i in 1 2 3; do /bin/echo $i; done > $R/s4; seq 3 | while read l; do /bin/echo x$l; done >> $R/s4; cat $R/s4
    (mkdir $R/sub && cd $R/sub && echo inside > f && ls) > $R/s5; cat $R/s5 $R/sub/f
    bash -c "ls $R/s1 nothere > $R/out 2>&1"; echo "rc=$?"; sort $R/out
    bash -c "cd $R/sub && cat f missing >> ../out 2>&1; exit 3"; echo "rc=$?"; cat $R/out
    sh -c "echo from-sh; echo err-sh >&2" > $R/sh.out 2> $R/sh.err; cat $R/sh.out $R/sh.err
  )SH");
}

// Forked subshells, and children that dup2() fd 3 onto their stdout before exec, share
// the parent's open file description and so its offset: no write lands over another.
TEST_F(AppsTest, ForkedChildrenShareAnFdsOffset) {
  expectSameAsNative("forkoffset", R"SH(
    exec 3> $R/f; (echo a >&3); (echo b >&3); echo c >&3; exec 3>&-; cat $R/f
    exec 3> $R/g; /bin/echo a >&3; /bin/echo b >&3; exec 3>&-; cat $R/g
  )SH");
}

// ---------------------------------------------------------------------------------
// coreutils

TEST_F(AppsTest, CoreutilsCopyMoveLinkChmodChownPreserveMetadata) {
  expectSameAsNative("cu", R"SH(
    cd $R && mkdir -p src/sub/deep && seq 1 3000 > src/nums && printf '#!/bin/sh\necho hi\n' > src/sub/run.sh
    echo secret > src/sub/deep/key && head -c 100000 /dev/zero > src/zeros
    chmod 755 src/sub/run.sh && chmod 600 src/sub/deep/key && chmod 640 src/nums && chmod 750 src/sub/deep
    ln -s ../nums src/sub/link && ln src/nums src/nums.hard
    chown nobody src/sub/run.sh && chown nobody:nogroup src/sub/deep/key && stat -c '%U:%G %n' src/sub/run.sh src/sub/deep/key
    find src -mindepth 1 -exec touch -h -d '2021-03-04 05:06:07' {} +
    touch -h -d '2001-02-03 04:05:06' src/sub/link && touch -d '2019-05-06 07:08:09' src/nums src/sub/run.sh
    touch -d '2018-01-01 00:00:00' src/sub/deep/key src/sub/deep src/sub
    cp -a src copy
    list() { (cd $1 && find . -mindepth 1 -printf '%M %U:%G %n %s %TY-%Tm-%Td %TT %p -> %l\n' | awk '$1 ~ /^d/ {$4=""} 1' | sort -k7); }
    list src && list copy > ../copy.list && list src | diff - ../copy.list && echo cp-a-preserved
    stat -c '%a %s %Y %h %n' copy/nums copy/nums.hard copy/sub/run.sh copy/sub/deep/key copy/zeros
    stat -c '%a %Y %n' copy/sub copy/sub/deep && readlink copy/sub/link && tail -1 copy/sub/link && copy/sub/run.sh
    cp -r --preserve=mode src plain && stat -c '%a %h %U %n' plain/nums plain/nums.hard plain/sub/run.sh
    mv copy/nums copy/sub/deep/ && mv copy/sub/deep moved && ls copy/sub moved && stat -c '%h %n' moved/nums copy/nums.hard
    echo over > newer && mv newer copy/nums.hard && cat copy/nums.hard && stat -c '%h' moved/nums
    mv moved copy/sub/ && ls -R copy
    mv -T copy/sub/moved copy/sub/moved2 && mv copy/zeros copy/sub/moved2/ 2>&1; ls copy/sub/moved2
    chmod u=rwx,g=rx,o= copy/sub/moved2/zeros && stat -c '%a %A' copy/sub/moved2/zeros
    chmod -R go-rwx copy && stat -c '%a %n' copy/sub/run.sh copy/sub copy/sub/moved2/key
    chmod 4755 copy/sub/run.sh && stat -c '%a %A' copy/sub/run.sh
    chown -R nobody:nogroup copy && stat -c '%U:%G %n' copy copy/sub/moved2/zeros copy/sub/moved2/nums
    chown -h root copy/sub/link && stat -c '%U %n' copy/sub/link && stat -L -c '%U %n' copy/sub/link 2>&1
    du -s --inodes copy && du -a --inodes copy | sort -k2 && du -sb --apparent-size copy/sub/moved2/zeros
    rm -rf copy plain nonexistent && ls && rm -rf src/sub && ls src
    touch -d '@1234567890' ts && stat -c '%X %Y' ts && touch -m -d '2030-01-01 UTC' ts && stat -c '%X %Y' ts
    touch -a -d '2000-01-01 UTC' ts && stat -c '%X %Y' ts && touch -r ts ts2 && stat -c '%X %Y %s %F' ts2
  )SH");
}

TEST_F(AppsTest, DfAndStatfsReportTheMount) {
  // Only on /myfs: the numbers are the data servers' disks.
  RunResult r = cluster_->run("mkdir $R && df $R && df -i $R && df -h /myfs && df --output=target $R && stat -f -c '%l' $R", "df");
  ASSERT_EQ(0, r.status) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("Mounted on\n/myfs\n")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("% /myfs\n")) << r.out;
  EXPECT_TRUE(r.out.ends_with("\n255\n")) << r.out;
}

// sort's temporary files (-T) live in /myfs too: a real external merge sort.
TEST_F(AppsTest, SortTailAndWcOnA50MBFile) {
  expectSameAsNative("sort", R"SH(
    cd $R && mkdir tmp
    awk 'BEGIN { srand(7); for (i = 0; i < 3000000; i++) printf "%09d %d\n", int(rand() * 1e9), i }' > big
    stat -c %s big && wc -l < big && tail -c 30 big && tail -n 2 big
    sort -S 8M -T tmp -o sorted big && ls tmp | wc -l && wc -l < sorted && md5sum < sorted
    head -2 sorted && tail -3 sorted && tail -n +2999999 sorted
    sort -n -k2,2 -r -S 8M -T tmp big | head -2
    sort -c sorted && echo sorted && rm big sorted
  )SH");
}

TEST_F(AppsTest, Dd64MBWithFsyncThenCmp) {
  expectSameAsNative("dd", R"SH(
    cd $R
    dd if=/dev/urandom of=rand bs=1M count=64 iflag=fullblock conv=fsync status=none && stat -c %s rand
    dd if=rand of=copy bs=1M count=64 conv=fsync status=none && stat -c %s copy && cmp rand copy && echo same
    dd if=rand bs=1M skip=10 count=1 status=none | md5sum > a && head -c 11M rand | tail -c 1M | md5sum > b && cmp a b && echo slice
    dd if=/dev/zero of=copy bs=4k seek=100 count=3 conv=notrunc,fsync status=none && stat -c %s copy
    cmp rand copy | sed 's/,.*//'; cmp -l rand copy | wc -l | awk '{print ($1 > 12000) ? "many" : "few"}'
    dd if=rand of=copy bs=1M skip=60 seek=2 conv=fsync status=none && stat -c %s copy
    cmp <(tail -c 4M rand) <(tail -c 4M copy) && echo tail-same
    dd if=copy of=short bs=1M count=3 conv=fsync status=none && truncate -s 100M short && stat -c %s short
    tail -c 1M short | tr -d '\0' | wc -c && dd if=short bs=1M skip=2 count=1 status=none | cmp - <(head -c 3M copy | tail -c 1M) && echo kept
    rm rand copy short
  )SH");
}

// ---------------------------------------------------------------------------------
// find, xargs

constexpr const char* kFindTree = R"SH(
    cd $R && mkdir -p proj/src/lib proj/include proj/empty
    for i in 1 2 3; do seq 1 $((i * 10)) > proj/src/f$i.c; seq 1 $i > proj/src/lib/l$i.c; echo "int x$i;" > proj/include/h$i.h; done
    printf 'a\nb\n' > 'proj/src/with space.c' && ln -s f1.c proj/src/alias.c
)SH";

TEST_F(AppsTest, FindExecAndXargs) {
  expectSameAsNative("find", std::string(kFindTree) + R"SH(
    find $R -name '*.c' -exec wc -l {} + | sort -k2
    find proj -name '*.c' -type f -exec wc -l {} \; | sort -k2
    find proj -name '*.h' -exec sh -c 'echo "$1: $(cat "$1")"' _ {} \; | sort
    find proj -type l -printf '%p -> %l\n' && find proj -size +50c -type f | sort
    find proj -name '*.h' -print0 | xargs -0 cat | sort
    find proj -name '*.c' -type f -print0 | sort -z | xargs -0 -n 2 wc -c | grep -v total
    ls proj/include/*.h | xargs -P 2 -I{} cp {} {}.bak && ls proj/include
    find proj -name '*.bak' -delete && ls proj/include
    find proj -path '*lib*' -prune -o -type f -print | sort
    find proj -type f -newer proj/src/f3.c | wc -l && find proj -maxdepth 1 -type d | sort
    find proj -name '*.c' -type f | xargs grep -l 2 | sort && grep -rc 1 proj/src --include='*.c' | sort
    find proj -type d -name empty -exec rmdir {} + && find proj -type d | sort
  )SH");
}

// find -empty sets errno = 0 and reads each directory: a readdir that succeeded must
// leave errno alone (the client's event loop must not leak its EAGAIN).
TEST_F(AppsTest, FindEmptyDirectories) {
  expectSameAsNative("findempty", std::string(kFindTree) + R"SH(
    find proj -type d -empty
    find proj -empty -type d -delete && find proj -type d | sort
  )SH");
}

// ---------------------------------------------------------------------------------
// rsync

// The source tree: files, an empty directory, modes, a symlink, a hard link, set times.
constexpr const char* kRsyncSource = R"SH(
    S=$(mktemp -d) && trap 'rm -rf $S' EXIT
    mkdir -p $S/t/a/b $S/t/empty && cp -r /usr/include/netinet $S/t/ && seq 1 50000 > $S/t/a/nums
    head -c 3000000 /dev/urandom > $S/t/a/b/blob && printf '#!/bin/sh\n' > $S/t/a/x.sh
    chmod 750 $S/t/a/x.sh && chmod 600 $S/t/a/nums && ln -s b/blob $S/t/a/link && ln $S/t/a/nums $S/t/a/b/nums.hard
    find $S/t -exec touch -h -d '2021-03-04 05:06:07' {} + && touch -d '2011-01-01' $S/t/a/b/blob
    list() { (cd $1 && find . -mindepth 1 -printf '%M %n %s %T@ %p %l\n' | awk '$1 ~ /^d/ {$3=""} 1' | sort -k5 | md5sum); }
)SH";

TEST_F(AppsTest, RsyncOutOfMyfs) {
  expectSameAsNative("rsyncout", std::string(kRsyncSource) + R"SH(
    cp -a $S/t $R/t && rsync -a $R/t/ $S/back/ && rsync -aH $R/t/ $S/backh/
    diff -r $S/t $S/back && diff -r $S/t $S/backh && echo identical
    list $S/t && list $R/t && list $S/back && list $S/backh
    rsync -ai $R/t/ $S/back/ && echo nothing-to-do
    echo changed >> $R/t/a/nums && touch -d '2022-01-01' $R/t/a/nums && rsync -ai $R/t/ $S/back/ && cmp $R/t/a/nums $S/back/a/nums
    rm $R/t/a/x.sh && rsync -ai --delete $R/t/ $S/back/ && ls $S/back/a
    rsync -a --checksum $R/t/ $S/back2/ && diff -r $R/t $S/back2 && echo checksum-ok
  )SH");
}

// Debian 12's rsync walks the destination from "/" with openat(open("/", O_PATH),
// "myfs", ...) and fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW): *at() calls relative to a
// kernel directory above the mount point must reach myfs.
TEST_F(AppsTest, RsyncIntoMyfsAndOutAgain) {
  expectSameAsNative("rsyncin", std::string(kRsyncSource) + R"SH(
    rsync -a $S/t/ $R/t/ && rsync -aH $S/t/ $R/th/ && rsync -a $R/t/ $S/back/ && rsync -aH $R/th/ $S/backh/
    diff -r $S/t $S/back && diff -r $S/t $S/backh && echo identical
    list $S/t && list $R/t && list $S/back && list $R/th && list $S/backh
    stat -c '%h %n' $R/th/a/nums $R/t/a/nums
    rsync -ai $S/t/ $R/t/ && echo nothing-to-do
    echo changed >> $S/t/a/nums && touch -d '2022-01-01' $S/t/a/nums && rsync -ai $S/t/ $R/t/ && cmp $S/t/a/nums $R/t/a/nums
    rm $S/t/a/x.sh && rsync -ai --delete $S/t/ $R/t/ && ls $R/t/a
    cd $R && rsync -a --checksum t/ rel/ && diff -r $S/t rel && echo relative-ok
  )SH");
}

// ---------------------------------------------------------------------------------
// Python

TEST_F(AppsTest, PythonFilesWalkCopytreeAndImportsFromMyfs) {
  expectSameAsNative("python", R"SH(
    cd $R && python3 - <<'PY'
import hashlib, os, shutil, sys
root = os.environ['R']
p = lambda *parts: os.path.join(root, *parts)
os.makedirs(p('tree/a/b'))
with open(p('tree/a/b/data.bin'), 'wb') as f:
    for i in range(1000):
        f.write(hashlib.sha256(str(i).encode()).digest() * 40)
with open(p('tree/a/notes.txt'), 'w') as f:
    f.write('\n'.join('line %d' % i for i in range(5000)))
with open(p('tree/a/notes.txt'), 'a') as f:
    f.write('\nappended\n')
os.symlink('b/data.bin', p('tree/a/link'))
os.chmod(p('tree/a/notes.txt'), 0o640)
os.utime(p('tree/a/notes.txt'), (1000000000, 1100000000))
with open(p('tree/a/notes.txt')) as f:
    lines = f.read().splitlines()
print(len(lines), lines[0], lines[-1])
with open(p('tree/a/b/data.bin'), 'r+b') as f:
    f.seek(500000); f.write(b'X' * 10); f.seek(-5, os.SEEK_END); tail = f.read()
    print(f.tell(), tail.hex())
print(hashlib.md5(open(p('tree/a/b/data.bin'), 'rb').read()).hexdigest())
def walk(top):
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        for n in filenames:
            st = os.lstat(os.path.join(dirpath, n))
            out.append(str((rel, n, st.st_size, oct(st.st_mode))))
        out.append(str((rel, sorted(dirnames))))
    return sorted(out)
w1 = walk(p('tree'))
print('\n'.join(w1))
shutil.copytree(p('tree'), p('copy'), symlinks=True)
print(walk(p('copy')) == w1, os.readlink(p('copy/a/link')), int(os.stat(p('copy/a/notes.txt')).st_mtime))
shutil.copytree(p('tree'), p('copy2'))
print(os.path.islink(p('copy2/a/link')), os.path.getsize(p('copy2/a/link')))
shutil.rmtree(p('tree'))
shutil.move(p('copy2'), p('copy/moved'))
print(sorted(os.listdir(root)), sorted(os.listdir(p('copy'))))
os.makedirs(p('pkg/mypkg'))
with open(p('pkg/mymod.py'), 'w') as f:
    f.write('def answer():\n    return 42\n')
with open(p('pkg/mypkg/__init__.py'), 'w') as f:
    f.write('from .inner import VALUE\n')
with open(p('pkg/mypkg/inner.py'), 'w') as f:
    f.write('VALUE = "inner value"\n')
sys.path.insert(0, p('pkg'))
import mymod, mypkg
print(mymod.answer(), mypkg.VALUE, mymod.__file__.replace(root, '$R'))
PY
    # A second interpreter imports from /myfs and writes its bytecode cache there.
    env -u PYTHONDONTWRITEBYTECODE python3 -c "import sys; sys.path.insert(0, '$R/pkg'); import mymod, mypkg; print(mymod.answer())"
    ls $R/pkg/__pycache__ $R/pkg/mypkg/__pycache__ | sed 's/cpython-[0-9]*/cpython-N/'
    env -u PYTHONDONTWRITEBYTECODE python3 -c "import sys; sys.path.insert(0, '$R/pkg'); import mymod; print(mymod.__cached__.replace('$R', 'R').split('.')[0])"
  )SH");
}

// Python's sqlite3 module: a database on /myfs (sqlite locks it with fcntl).
TEST_F(AppsTest, PythonSqlite3Module) {
  expectSameAsNative("pysqlite", R"SH(
    cd $R && python3 - <<'PY'
import os, sqlite3
path = os.path.join(os.environ['R'], 'py.db')
db = sqlite3.connect(path)
db.execute('create table t (id integer primary key, name text, v integer)')
with db:
    db.executemany('insert into t (name, v) values (?, ?)', (('row%d' % i, i * 3) for i in range(10000)))
print(db.execute('select count(*), sum(v) from t').fetchone())
print(db.execute('select name from t where id = 5000').fetchone())
db.execute('create index tv on t(v)')
print(db.execute('pragma integrity_check').fetchone())
db.close()
db = sqlite3.connect(path)
print(db.execute('select count(*), sum(v) from t where v % 2 = 0').fetchone())
PY
  )SH");
}

// The sqlite3 command line, in rollback-journal and WAL mode (wal.db-shm is a shared
// writable mapping whose ranges sqlite locks).
TEST_F(AppsTest, Sqlite3Cli) {
  expectSameAsNative("sqlite", R"SH(
    cd $R && sqlite3 cli.db <<'SQL'
create table t (id integer primary key, name text, v integer);
begin;
with recursive n(i) as (select 1 union all select i + 1 from n where i < 10000)
insert into t (name, v) select 'row' || i, i * 7 from n;
commit;
select count(*), sum(v), max(name) from t;
create index tv on t(v);
update t set v = v + 1 where id % 1000 = 0;
delete from t where id > 9990;
select count(*), sum(v) from t;
pragma integrity_check;
SQL
    sqlite3 cli.db 'select count(*) from t'
    # WAL mode: the -shm index is a shared writable mapping, guarded by fcntl locks.
    sqlite3 wal.db 'pragma journal_mode=wal; create table t (x); insert into t values (1), (2), (3);'
    sqlite3 wal.db 'insert into t select x * 10 from t; select count(*), sum(x) from t; pragma integrity_check;' && ls
  )SH");
}

// Python's mmap: a writable MAP_SHARED mapping of a /myfs file, flushed and read back.
TEST_F(AppsTest, PythonMmapSharedWrite) {
  expectSameAsNative("mmap", R"SH(
    cd $R && python3 - <<'PY'
import mmap
with open('m.bin', 'wb') as f:
    f.write(b'.' * 10000)
with open('m.bin', 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    m[100:105] = b'hello'
    m[9995:] = b'WORLD'
    m.flush()
    m.close()
d = open('m.bin', 'rb').read()
print(len(d), d[98:107], d[-6:])
PY
  )SH");
}

// ---------------------------------------------------------------------------------
// tar + gzip through pipes (programs_test does tar -czf/-xzf by path)

TEST_F(AppsTest, TarThroughPipesPreservesMetadata) {
  expectSameAsNative("tar", R"SH(
    cd $R
    tar -C /usr/include -cf - x86_64-linux-gnu netinet arpa | gzip -1 > inc.tgz && gzip -t inc.tgz
    mkdir x && gzip -dc < inc.tgz | tar -C x -xpf - && echo extracted
    N=$(mktemp -d) && trap 'rm -rf $N' EXIT && tar -C $N -xzf inc.tgz && diff -r --no-dereference $N x && echo same-content
    list() { (cd $1 && find . -mindepth 1 -printf '%M %n %U %s %T@ %p %l\n' | awk '$1 ~ /^d/ {$4=""} 1' | sort -k6); }
    list $N > $N.a && list x > $N.b && diff $N.a $N.b && echo same-metadata && wc -l < $N.b; rm -f $N.a $N.b
    tar -C x -cf - x86_64-linux-gnu netinet arpa | tar -tvf - | awk '$1 ~ /^d/ {$3=""} 1' | sort -k6 > $N.c
    tar -C $N -cf - x86_64-linux-gnu netinet arpa | tar -tvf - | awk '$1 ~ /^d/ {$3=""} 1' | sort -k6 | diff - $N.c && echo same-listing
    gzip -l inc.tgz | awk 'NR == 2 {print $2}'; rm -f $N.c
  )SH");
}

// ---------------------------------------------------------------------------------
// MPI: 4 ranks write disjoint blocks of one shared file (tests/integration/mpi_shared_file.c)

std::string mpiScript(const std::string& mode) {
  // Forward the client's environment (LD_PRELOAD, MYFS_*) that `myfs run` set, if any.
  return R"SH(
    X=() && for v in $(compgen -e | grep -E '^(LD_PRELOAD|MYFS_)'); do X+=(-x $v); done
    mpirun --allow-run-as-root --oversubscribe -np 4 "${X[@]}" )SH" +
         binDir() + "/mpi_shared_file " + mode + R"SH( $R/shared 100000 16
    echo "mpirun=$?" && stat -c %s $R/shared && md5sum < $R/shared
  )SH";
}

bool haveMpiProgram() { return access((binDir() + "/mpi_shared_file").c_str(), X_OK) == 0; }

TEST_F(AppsTest, MpiRanksPwriteDisjointBlocksOfASharedFile) {
  ASSERT_TRUE(haveMpiProgram()) << "mpi_shared_file was not built: install Open MPI (scripts/install-deps.sh)";
  expectSameAsNative("mpipwrite", mpiScript("pwrite"), 120);
}

// The same through MPI-IO: Open MPI's OMPIO opens the file on every rank and takes an
// fcntl write lock around each MPI_File_write_at.
TEST_F(AppsTest, MpiIoWriteAtDisjointBlocksOfASharedFile) {
  ASSERT_TRUE(haveMpiProgram()) << "mpi_shared_file was not built: install Open MPI (scripts/install-deps.sh)";
  expectSameAsNative("mpiio", mpiScript("mpiio"), 120);
}

}  // namespace
}  // namespace myfs::testing
