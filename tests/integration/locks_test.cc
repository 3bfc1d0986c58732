// File locks between processes (each its own client session) on real servers: fcntl,
// lockf, OFD and flock locks exclude, blocked waiters wake, a killed holder's locks go
// after the lease, and sqlite3 databases shared by concurrent writers stay whole.
#include <gtest/gtest.h>

#include <chrono>

#include "tests/integration/cluster.h"

namespace myfs::testing {
namespace {

constexpr int kLeaseMs = 2000;

class LocksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new Cluster(2, 2, "--lock-lease-ms " + std::to_string(kLeaseMs)); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static Cluster* cluster_;
};
Cluster* LocksTest::cluster_ = nullptr;

TEST_F(LocksTest, FcntlLockfAndOfdLocksExcludeOtherProcesses) {
  expectSameAsNative(*cluster_, "fcntl", R"SH(
    cd $R
    cat > probe.py <<'PY'
import fcntl, os, struct, sys
fd = os.open('f', os.O_RDWR)
def tryLock(kind, start, length):
    try:
        fcntl.lockf(fd, kind | fcntl.LOCK_NB, length, start)
        fcntl.lockf(fd, fcntl.LOCK_UN, length, start)
        return 'granted'
    except OSError as e:
        return 'refused' if e.errno in (11, 13) else str(e.errno)
print('ex 0-9', tryLock(fcntl.LOCK_EX, 0, 10))
print('sh 5-14', tryLock(fcntl.LOCK_SH, 5, 10))
print('ex 10-49', tryLock(fcntl.LOCK_EX, 10, 40))
print('sh 50-59', tryLock(fcntl.LOCK_SH, 50, 10))
print('ex 55-56', tryLock(fcntl.LOCK_EX, 55, 2))
t, w, s, l, p = struct.unpack('hhqqi', fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 3, 1, 0)))
print('getlk', t == fcntl.F_WRLCK, s, l, p == os.getppid())
F_OFD_SETLK = 37
try:
    fcntl.fcntl(fd, F_OFD_SETLK, struct.pack('hhqqi', fcntl.F_RDLCK, 0, 0, 1, 0))
    print('ofd granted')
except OSError as e:
    print('ofd refused', e.errno)
PY
    python3 - <<'PY'
import fcntl, os, subprocess, sys
fd = os.open('f', os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'x' * 100)
fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
fcntl.lockf(fd, fcntl.LOCK_SH, 10, 50)
run = lambda: print(subprocess.run([sys.executable, 'probe.py'], capture_output=True, text=True).stdout, end='')
run()
fcntl.lockf(fd, fcntl.LOCK_UN, 5, 0)   # keeps 5-9
run()
os.close(fd)                           # any close drops the process's locks
run()
PY
  )SH");
}

TEST_F(LocksTest, FlockUtilityAndWaitersWakeOnRelease) {
  expectSameAsNative(*cluster_, "flock", R"SH(
    cd $R
    touch lock
    flock -n lock -c 'echo got it; flock -n lock -c "echo nested, wrong" || echo second holder refused'
    (flock -x lock -c 'sleep 1; echo first done') &
    sleep 0.3
    start=$(date +%s%N)
    flock -x lock -c 'echo second ran'
    end=$(date +%s%N)
    wait
    [ $(( (end - start) / 1000000 )) -ge 500 ] && echo 'second waited for the first'
    flock -s lock -c 'flock -s -n lock -c "echo two readers"'
  )SH");
}

TEST_F(LocksTest, LocksOfAKilledProcessGoAfterTheLease) {
  ASSERT_EQ(0, cluster_->run("mkdir -p $R && touch $R/f", "killed").status);
  auto start = std::chrono::steady_clock::now();
  RunResult r = cluster_->run(R"SH(
    python3 -c "
import fcntl, os, time
fd = os.open('$R/f', os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
os.write(1, b'holding' + bytes([10]))
time.sleep(60)
" &
    holder=$!
    sleep 1
    python3 -c "
import fcntl, os
fd = os.open('$R/f', os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('taken while held, wrong')
except OSError: print('refused while held')
"
    kill -9 $holder; wait $holder 2>/dev/null
    python3 -c "
import fcntl, os
fd = os.open('$R/f', os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX); print('taken after the holder died')
"
  )SH", "killed");
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(0, r.status) << r.out;
  EXPECT_EQ("holding\nrefused while held\ntaken after the holder died\n", r.out);
  EXPECT_LT(waited, std::chrono::milliseconds(3 * kLeaseMs + 8000));
}

TEST_F(LocksTest, ConcurrentSqliteWritersKeepTheDatabaseWhole) {
  expectSameAsNative(*cluster_, "sqlite", R"SH(
    cd $R
    python3 -c "
import sqlite3
db = sqlite3.connect('shared.db')
db.execute('create table t (writer int, n int)')
db.commit()
"
    for w in 1 2 3; do
      python3 -c "
import sqlite3
db = sqlite3.connect('shared.db', timeout=60)
for i in range(50):
    with db:
        db.execute('insert into t values (?, ?)', ($w, i))
" &
    done
    wait
    python3 -c "
import sqlite3
db = sqlite3.connect('shared.db')
print(db.execute('select writer, count(*), sum(n) from t group by writer order by writer').fetchall())
print(db.execute('pragma integrity_check').fetchone()[0])
"
  )SH");
}

}  // namespace
}  // namespace myfs::testing
