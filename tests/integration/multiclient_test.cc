// Several client processes on the same servers at once: each python3 process started
// under libmyfs.so is its own client with its own metadata sessions, caching attributes
// and names under leases. One orchestrating python3 process (which never touches /myfs)
// drives long-lived client processes ("agents") through FIFOs in a native temporary
// directory, sends them signals, and times what the others wait for:
//   - a client sees another's rename, unlink and create at its very next lookup,
//     although it had the names (positive and negative) cached;
//   - O_EXCL creates and mkdirs racing from 8 clients: exactly one wins;
//   - close-to-open data and attribute changes;
//   - a file removed by one client stays readable for another that has it open;
//   - a client killed with SIGKILL, or stopped with SIGSTOP, while holding leases (and
//     a lock) holds the others up for at most a bounded time and sees no stale state;
//   - files one client made on its own in a directory delegated to it are there for
//     every other client at its next look, also when the maker was killed right after.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>

#include "tests/integration/cluster.h"

namespace myfs::testing {
namespace {

constexpr int kLeaseMs = 2000;

// The orchestrator's module, mc.py: Agent (a client process taking Python code over a
// FIFO), check(), and the helpers shared by the orchestrator and every agent. Run as
// `python3 mc.py body.py`, it runs the test body with these names in scope, within
// $DEADLINE seconds; agents die with it. A body proves that a client answers from its
// cache (so that a stale answer would show) by asking it with every metadata server
// stopped.
const char* const kHarness = R"PY(
import atexit, errno, hashlib, json, os, select, signal, stat, subprocess, sys, time

T = os.environ['T']                         # native directory: FIFOs and these scripts
R = os.environ['R']                         # the test's directory in /myfs
D = os.environ['D']                         # the cluster's directory (its servers file)
LEASE = int(os.environ['LEASE_MS']) / 1000.0

HELPERS = r'''
import errno, fcntl, hashlib, os, random, stat, struct, time

def blob(seed, n):
    return random.Random(seed).randbytes(n)

def digest(b):
    return hashlib.sha256(b).hexdigest()

def err(e):
    return errno.errorcode.get(e.errno, str(e.errno))

def attempt(f, *a):
    try:
        return f(*a)
    except OSError as e:
        return err(e)

def timed(f, *a):
    t = time.monotonic()
    v = attempt(f, *a)
    return [v, time.monotonic() - t]

def describe(s):
    kind = 'dir' if stat.S_ISDIR(s.st_mode) else 'file' if stat.S_ISREG(s.st_mode) else 'other'
    return {'ino': s.st_ino, 'type': kind, 'mode': oct(stat.S_IMODE(s.st_mode)), 'size': s.st_size,
            'nlink': s.st_nlink, 'mtime': s.st_mtime_ns}

def st(path):
    try:
        return describe(os.stat(path))
    except OSError as e:
        return err(e)

def readall(fd):
    parts = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b''.join(parts)
        parts.append(b)

def get(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return readall(fd)
    finally:
        os.close(fd)

def text(path):
    try:
        return get(path).decode()
    except OSError as e:
        return err(e)

def put(path, data, sync=False, flags=os.O_TRUNC):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view[:1 << 20]):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
'''

# An agent: `python3 mc.py --agent cmdFifo replyFifo`. Each command is one JSON line
# holding Python code: an expression's value is the answer, or for statements the value
# they leave in `_`. Answers: {"ok": value}, {"errno": "ENOENT", ...} or {"err": ...}.
def agentMain(cmdPath, repPath, parent):
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG: end with the orchestrator
    if os.getppid() != parent:
        sys.exit(1)
    cmd = os.fdopen(os.open(cmdPath, os.O_RDONLY), 'r')
    rep = os.open(repPath, os.O_WRONLY)
    ns = {'R': R, 'T': T}
    exec(HELPERS, ns)
    while True:
        line = cmd.readline()
        if not line:
            break
        code = json.loads(line)
        try:
            try:
                compiled = compile(code, '<cmd>', 'eval')
            except SyntaxError:
                compiled = None
            if compiled is not None:
                out = {'ok': eval(compiled, ns)}
            else:
                ns['_'] = None
                exec(code, ns)
                out = {'ok': ns['_']}
        except OSError as e:
            out = {'errno': errno.errorcode.get(e.errno, e.errno), 'err': str(e)}
        except Exception as e:
            out = {'err': repr(e)}
        os.write(rep, (json.dumps(out, default=repr) + '\n').encode())


exec(HELPERS)
failures = []
agents = []


def note(*a):
    print('#', *a, flush=True)


def check(cond, what, detail=''):
    if cond:
        print('ok', what, flush=True)
    else:
        failures.append(what)
        print('FAIL', what, '::', detail, flush=True)
    return cond


class AgentError(Exception):
    pass


class Agent:
    def __init__(self, name):
        self.name = name
        self.stopped = False
        cmdPath = os.path.join(T, name + '.cmd')
        repPath = os.path.join(T, name + '.rep')
        os.mkfifo(cmdPath)
        os.mkfifo(repPath)
        self.rep = os.open(repPath, os.O_RDONLY | os.O_NONBLOCK)
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--agent', cmdPath, repPath,
                                      str(os.getpid())])
        self.pid = self.proc.pid
        agents.append(self)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.cmd = os.open(cmdPath, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno != errno.ENXIO or time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AgentError('agent %s did not start' % name)
                time.sleep(0.005)
        os.set_blocking(self.cmd, True)
        self.buf = b''

    def send(self, code):
        os.write(self.cmd, (json.dumps(code) + '\n').encode())

    # The next answer, or None if none came within `timeout` seconds.
    def recv(self, timeout=30):
        deadline = time.monotonic() + timeout
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.rep], [], [], min(left, 0.05))
            chunk = b''
            if ready:
                try:
                    chunk = os.read(self.rep, 1 << 16)
                except BlockingIOError:
                    pass
            if chunk:
                self.buf += chunk
                continue
            if self.proc.poll() is not None:
                raise AgentError('agent %s exited (%s)' % (self.name, self.proc.returncode))
            if ready:
                time.sleep(0.005)  # end of file: the agent has not opened its end yet
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def do(self, code, timeout=30):
        self.send(code)
        r = self.recv(timeout)
        if r is None:
            raise AgentError('agent %s gave no answer within %ss to: %s' % (self.name, timeout, code))
        return r

    # The value of `code`; a failure ends the test.
    def ok(self, code, timeout=30):
        r = self.do(code, timeout)
        if 'ok' not in r:
            raise AgentError('agent %s failed: %s\n  in: %s' % (self.name, r, code))
        return r['ok']

    def signal(self, sig):
        os.kill(self.pid, sig)
        if sig == signal.SIGSTOP:
            self.stopped = True
        elif sig == signal.SIGCONT:
            self.stopped = False
        elif sig == signal.SIGKILL:
            self.proc.wait()


def cleanup():
    for a in agents:
        if a.proc.poll() is not None:
            continue
        if a.stopped:
            os.kill(a.pid, signal.SIGCONT)
        try:
            os.close(a.cmd)  # the agent ends at end of file: a normal exit
        except (OSError, AttributeError):
            pass
    for a in agents:
        try:
            a.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            a.proc.kill()
            a.proc.wait()
            print('FAIL agent', a.name, 'did not exit', flush=True)


atexit.register(cleanup)


# Opens the write end of FIFO `path` once a reader waits on it (an agent at a barrier).
def openGate(path, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            return fd
        except OSError as e:
            if e.errno != errno.ENXIO or time.monotonic() > deadline:
                raise AgentError('nobody waits at ' + path)
            time.sleep(0.002)


def servers(role):
    pids = []
    with open(os.path.join(D, 'servers')) as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == role:
                pids.append(int(fields[2]))
    return pids


# Sends `code` to `agent` with every metadata server stopped; whether the answer came
# before they were continued (at most `window` seconds later), and the answer.
def withMetadataStopped(agent, code, window=0.8):
    metas = servers('meta')
    for p in metas:
        os.kill(p, signal.SIGSTOP)
    try:
        agent.send(code)
        r = agent.recv(window)
        answered = r is not None
    finally:
        for p in metas:
            os.kill(p, signal.SIGCONT)
    if r is None:
        r = agent.recv(60)
    return answered, r


def deadline(signum, frame):
    for a in agents:
        if a.proc.poll() is None:
            a.proc.kill()
    raise AgentError('the test ran out of time (%s s)' % os.environ.get('DEADLINE'))


if __name__ == '__main__' and sys.argv[1] == '--agent':
    agentMain(sys.argv[2], sys.argv[3], int(sys.argv[4]))
elif __name__ == '__main__':
    signal.signal(signal.SIGALRM, deadline)
    signal.alarm(int(os.environ['DEADLINE']))
    exec(compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'))
    signal.alarm(0)
    cleanup()
    if failures:
        print('FAILED:', ', '.join(failures), flush=True)
        sys.exit(1)
    print('PASS', flush=True)
)PY";

class MultiClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new Cluster(2, 2, "--lock-lease-ms " + std::to_string(kLeaseMs)); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static std::string quote(const std::string& s) { return "'" + s + "'"; }

  // Runs `body` (Python, see kHarness) as the orchestrator with R=/myfs/<name>, and
  // expects it to pass within `deadlineSec`. Its output (checks and timings) goes to the
  // test log.
  static void orchestrate(const std::string& name, const std::string& body, int deadlineSec = 45,
                          Cluster* cluster = nullptr) {
    Cluster& c = cluster != nullptr ? *cluster : *cluster_;
    TempDir t;
    std::ofstream(t.path() + "/mc.py") << kHarness;
    std::ofstream(t.path() + "/body.py") << body;
    RunResult made = c.run("mkdir -p $R", name);
    ASSERT_EQ(0, made.status) << made.out;
    const std::string env = "T=" + quote(t.path()) + " D=" + quote(c.dir()) + " LEASE_MS=" + std::to_string(kLeaseMs) +
                            " DEADLINE=" + std::to_string(deadlineSec);
    RunResult r = c.run("python3 \"$T/mc.py\" \"$T/body.py\"", name, env, deadlineSec + 30);
    std::cout << r.out;
    EXPECT_EQ(0, r.status) << "the orchestrator's output is above";
    EXPECT_NE(std::string::npos, r.out.find("\nPASS\n"));
    EXPECT_EQ(std::string::npos, r.out.find("FAIL"));
  }

  // Chunks held by all data servers together (`myfs status`).
  static long dataChunks() {
    RunResult st = cluster_->status();
    EXPECT_EQ(0, st.status) << st.out;
    long total = 0;
    std::regex re(R"(data: (\d+) chunks)");
    for (std::sregex_iterator it(st.out.begin(), st.out.end(), re), end; it != end; ++it) total += std::stol((*it)[1]);
    return total;
  }

  static Cluster* cluster_;
};
Cluster* MultiClientTest::cluster_ = nullptr;

// 1. Names A has cached, positive and negative, change under B: A's very next stat or
//    open sees the change.
TEST_F(MultiClientTest, RenameUnlinkAndCreateByOneClientAreSeenAtTheOthersNextLookup) {
  orchestrate("names", R"PY(
A = Agent('A')
B = Agent('B')
B.ok('''
os.makedirs(R + '/d/sub')
for name, data in [('f1', b'one'), ('f2', b'two'), ('f3', b'three'), ('x', b'xx'), ('y', b'yyy'), ('sub/g', b'gee')]:
    put(R + '/d/' + name, data)
''')
PATHS = ['d', 'd/f1', 'd/f2', 'd/f3', 'd/x', 'd/y', 'd/sub', 'd/sub/g',
         'd/f1r', 'd/new', 'd/newdir', 'd/sub2', 'd/sub2/g']        # the last five do not exist yet
A.ok('PATHS = %r' % PATHS)
A.ok('def look(): return {p: st(R + "/" + p) for p in PATHS}')
A.ok('def contents(): return {p: text(R + "/d/" + p) for p in ["f1", "f2", "f3", "x", "y", "sub/g"]}')
before = A.ok('for i in range(200): _ = look()')
A.ok('for i in range(20): _ = contents()')
A.ok('for i in range(20): _ = sorted(os.listdir(R + "/d"))')
check(before == B.ok('{p: st(R + "/" + p) for p in %r}' % PATHS), 'A and B agree before the changes', before)
check([before[p] for p in PATHS[8:]] == ['ENOENT'] * 5, 'A looked up the missing names', before)

# The cache is real: A answers from it with every metadata server stopped.
answered, r = withMetadataStopped(A, 'look()')
check(answered, 'A stats its cached names (positive and negative) without asking the metadata servers', r)
check(r.get('ok') == before, 'the cached answers are the same', r)

B.ok('''
os.rename(R + '/d/f1', R + '/d/f1r')
os.unlink(R + '/d/f2')
os.unlink(R + '/d/f3')
put(R + '/d/f3', b'three, again')
os.rename(R + '/d/x', R + '/d/y')
os.rename(R + '/d/sub', R + '/d/sub2')
put(R + '/d/new', b'fresh')
os.mkdir(R + '/d/newdir')
''')
# A's very first access to each name after B's changes: some by stat, some by open.
first = A.ok('''
_ = {
    'stat f1': st(R + '/d/f1'),
    'open f1': text(R + '/d/f1'),
    'open f1r': text(R + '/d/f1r'),
    'open f2': text(R + '/d/f2'),
    'stat f3': st(R + '/d/f3'),
    'open y': text(R + '/d/y'),
    'stat x': st(R + '/d/x'),
    'open sub/g': text(R + '/d/sub/g'),
    'stat sub2/g': st(R + '/d/sub2/g'),
    'open new': text(R + '/d/new'),
    'stat newdir': st(R + '/d/newdir'),
    'listdir': sorted(os.listdir(R + '/d')),
}
''')
check(first['stat f1'] == 'ENOENT', 'renamed-away name: ENOENT', first['stat f1'])
check(first['open f1'] == 'ENOENT', 'renamed-away name: open ENOENT', first['open f1'])
check(first['open f1r'] == 'one', 'rename target (negative before) opens with the content', first['open f1r'])
check(first['open f2'] == 'ENOENT', 'unlinked name: open ENOENT', first['open f2'])
check(isinstance(first['stat f3'], dict) and first['stat f3']['size'] == 12,
      'unlinked and created again: the new file', first['stat f3'])
check(first['open y'] == 'xx', 'rename over a cached name: the moved file', first['open y'])
check(first['stat x'] == 'ENOENT', 'rename source: ENOENT', first['stat x'])
check(first['open sub/g'] == 'ENOENT', 'under a renamed directory: ENOENT', first['open sub/g'])
check(isinstance(first['stat sub2/g'], dict) and first['stat sub2/g']['ino'] == before['d/sub/g']['ino'],
      'renamed directory (negative before): its file', first['stat sub2/g'])
check(first['open new'] == 'fresh', 'created name (negative before) opens', first['open new'])
check(isinstance(first['stat newdir'], dict) and first['stat newdir']['type'] == 'dir',
      'created directory (negative before)', first['stat newdir'])
check(first['listdir'] == ['f1r', 'f3', 'new', 'newdir', 'sub2', 'y'], 'listing', first['listdir'])

after = A.ok('look()')
check(after['d/f1r']['ino'] == before['d/f1']['ino'], 'f1r is the inode f1 was', after['d/f1r'])
check(after['d/y']['ino'] == before['d/x']['ino'], 'y is the inode x was', after['d/y'])
check(after == B.ok('{p: st(R + "/" + p) for p in %r}' % PATHS), 'A and B agree after the changes', after)

# And back: A changes, B (which has cached the new state) sees it.
B.ok('PATHS = %r' % PATHS)
B.ok('for i in range(100): _ = [st(R + "/" + p) for p in PATHS]')
A.ok('os.unlink(R + "/d/new"); os.rename(R + "/d/sub2", R + "/d/sub")')
check(B.ok('[st(R + "/d/new"), text(R + "/d/sub/g"), st(R + "/d/sub2")]') == ['ENOENT', 'gee', 'ENOENT'],
      "B sees A's unlink and rename back")
  )PY");
}

// 2. Eight clients that all cached the negative dentry create the same name at once.
TEST_F(MultiClientTest, ExclusiveCreateRaceHasExactlyOneWinner) {
  // Its own servers: a metadata server wedged by a recall bug would fail the other tests too.
  Cluster own(2, 2, "--lock-lease-ms " + std::to_string(kLeaseMs));
  orchestrate("excl", R"PY(
N = 8
clients = [Agent('c%d' % i) for i in range(N)]
for i, c in enumerate(clients):
    c.ok('ME = "c%d"' % i)
clients[0].ok('os.mkdir(R + "/race")')
rounds = [('file', 'f%d' % i) for i in range(6)] + [('dir', 'd%d' % i) for i in range(3)]
for kind, name in rounds:
    path = R + '/race/' + name
    missing = [c.ok('for i in range(20): _ = st(%r)' % path) for c in clients]
    check(missing == ['ENOENT'] * N, '%s: every client cached its absence' % name, missing)
    go = os.path.join(T, 'go-' + name)
    os.mkfifo(go)
    if kind == 'file':
        op = ('fd = os.open(%r, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644); os.write(fd, ME.encode()); '
              'os.close(fd)' % path)
    else:
        op = 'os.mkdir(%r)' % path
    code = '''
os.close(os.open(%r, os.O_RDONLY))   # the barrier: every client waits for the orchestrator's open
try:
    %s
    _ = 'won'
except OSError as e:
    _ = err(e)
''' % (go, op)
    for c in clients:
        c.send(code)
    time.sleep(0.3)
    gate = openGate(go)   # releases all of them at once
    results = [c.recv(30) for c in clients]
    os.close(gate)
    outcomes = [r['ok'] if r and 'ok' in r else r for r in results]
    winners = [i for i, o in enumerate(outcomes) if o == 'won']
    check(len(winners) == 1 and outcomes.count('EEXIST') == N - 1,
          '%s %s: one winner, %d EEXIST' % (kind, name, N - 1), outcomes)
    views = [c.ok('[st(%r), text(%r) if %r == "file" else None]' % (path, path, kind)) for c in clients]
    check(all(v == views[0] for v in views) and isinstance(views[0][0], dict) and views[0][0]['type'] == kind,
          '%s: every client sees the same %s' % (name, kind), views)
    if kind == 'file' and len(winners) == 1:
        check(views[0][1] == 'c%d' % winners[0], "%s holds the winner's name" % name, views[0])
  )PY",
              25, &own);
}

// 3. Close-to-open: A's next open sees what B wrote and closed; A's next stat sees B's
//    chmod, utimes and truncate.
TEST_F(MultiClientTest, CloseToOpenAndAttributeChangesAreSeenByTheOtherClient) {
  orchestrate("cto", R"PY(
A = Agent('A')
B = Agent('B')
A.ok('put(R + "/small", b"old content, version one\\n")')
A.ok('put(R + "/big", blob(1, 3000000))')
A.ok('put(R + "/same", blob(3, 2 << 20))')
cached = A.ok('''
for i in range(10):
    _ = [text(R + "/small"), digest(get(R + "/big")), digest(get(R + "/same")), st(R + "/small"), st(R + "/big")]
''')
check(cached[0] == 'old content, version one\n' and cached[1] == digest(blob(1, 3000000)),
      'A reads what it wrote', cached)

B.ok('put(R + "/small", b"new!")')
r = A.ok('fd = os.open(R + "/small", os.O_RDONLY); _ = [os.fstat(fd).st_size, readall(fd).decode()]; os.close(fd)')
check(r == [4, 'new!'], "A's reopen: B's smaller content and size", r)

B.ok('put(R + "/big", blob(2, 2500000))')
r = A.ok('fd = os.open(R + "/big", os.O_RDONLY); _ = [os.fstat(fd).st_size, digest(readall(fd))]; os.close(fd)')
check(r == [2500000, digest(blob(2, 2500000))], "A's reopen of a 3 MB file B rewrote with 2.5 MB", r)

# Same size, same name, new bytes in the middle of the second chunk.
B.ok('fd = os.open(R + "/same", os.O_WRONLY); os.pwrite(fd, b"Z" * 100, (1 << 20) + 100); os.close(fd)')
expect = bytearray(blob(3, 2 << 20))
expect[(1 << 20) + 100:(1 << 20) + 200] = b'Z' * 100
r = A.ok('digest(get(R + "/same"))')
check(r == digest(bytes(expect)), "A's reopen: B's in-place overwrite (same size)", r)

for i in range(3):
    cached = A.ok('for i in range(100): _ = st(R + "/small")')
    answered, r = withMetadataStopped(A, 'st(R + "/small")')
    check(answered and r.get('ok') == cached, 'A stats the file from its cache', [answered, r])
    change, field, want = [('os.chmod(R + "/small", 0o600)', 'mode', '0o600'),
                           ('os.utime(R + "/small", ns=(1000000000 * 10**9, 1000000000 * 10**9))', 'mtime',
                            1000000000 * 10**9),
                           ('os.truncate(R + "/small", 1)', 'size', 1)][i]
    B.ok(change)
    s = A.ok('st(R + "/small")')
    check(isinstance(s, dict) and s[field] == want, "A's next stat sees B's " + change, s)
  )PY");
}

// 4. B unlinks a file A has open: A reads all of it, fstat works, and once A closes it
//    the name is gone and its chunks are freed.
TEST_F(MultiClientTest, FileRemovedByOneClientStaysReadableForAnotherThatHasItOpen) {
  const long chunksBefore = dataChunks();
  orchestrate("orphan", R"PY(
SIZE = 8 << 20
A = Agent('A')
B = Agent('B')
B.ok('put(R + "/victim", blob(4, %d)); put(R + "/keep", b"k")' % SIZE)
s = A.ok('''
fd = os.open(R + "/victim", os.O_RDONLY)
head = os.pread(fd, 4096, 0)
for i in range(50):
    _ = st(R + "/victim")
''')
check(isinstance(s, dict) and s['size'] == SIZE, 'A opened the 8 MB file', s)
B.ok('os.unlink(R + "/victim")')
check(B.ok('[st(R + "/victim"), sorted(os.listdir(R))]') == ['ENOENT', ['keep']], 'B: the name is gone')
r = A.ok('describe(os.fstat(fd))')
check(isinstance(r, dict) and r['size'] == SIZE and r['ino'] == s['ino'] and r['nlink'] == 0,
      "A's fstat of the removed file: its size, nlink 0", r)
check(A.ok('st(R + "/victim")') == 'ENOENT', "A's stat of the name: ENOENT while open")
# Backwards by 1 MiB, then forwards in odd-sized reads: every byte from the servers.
r = A.ok('''
want = blob(4, %d)
pieces = []
for off in range(%d - (1 << 20), -1, -(1 << 20)):
    pieces.insert(0, os.pread(fd, 1 << 20, off))
back = b"".join(pieces)
os.lseek(fd, 0, os.SEEK_SET)
fwd = []
while True:
    b = os.read(fd, 777777)
    if not b:
        break
    fwd.append(b)
fwd = b"".join(fwd)
_ = [len(back), back == want, len(fwd), fwd == want, head == want[:4096]]
''' % (SIZE, SIZE))
check(r == [SIZE, True, SIZE, True, True], 'A reads all of the removed file, correctly', r)
r = A.ok('os.close(fd); _ = [st(R + "/victim"), sorted(os.listdir(R))]')
check(r == ['ENOENT', ['keep']], 'after A closes it: gone for A', r)
check(B.ok('st(R + "/victim")') == 'ENOENT', 'after A closes it: gone for B')
  )PY");
  // The removed file's chunks went with A's close ("keep" is smaller than a chunk: 1).
  EXPECT_EQ(chunksBefore + 1, dataChunks());
}

// 5. A client killed with SIGKILL while holding leases on a tree and a write lock.
TEST_F(MultiClientTest, KilledClientHoldsNobodyUpAndItsSyncedDataSurvives) {
  orchestrate("killed", R"PY(
A = Agent('A')
B = Agent('B')
TREE = ['', 'd1', 'd1/e', 'd1/e/h', 'd1/f0', 'd1/f1', 'd2', 'd2/g', 'd2/new']
A.ok('''
os.makedirs(R + "/tree/d1/e")
os.makedirs(R + "/tree/d2")
for p in ["d1/e/h", "d1/f0", "d1/f1", "d2/g"]:
    put(R + "/tree/" + p, p.encode())
put(R + "/lockfile", b"")
''')
A.ok('TREE = %r' % TREE)
cached = A.ok('for i in range(100): _ = [st(R + "/tree/" + p) for p in TREE]')
answered, r = withMetadataStopped(A, '[st(R + "/tree/" + p) for p in TREE]')
check(answered and r.get('ok') == cached, 'A has the tree cached', [answered, r])
A.ok('''
lf = os.open(R + "/lockfile", os.O_RDWR)
fcntl.lockf(lf, fcntl.LOCK_EX)
wf = os.open(R + "/synced", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
data = memoryview(blob(5, 3000000))
while data:
    data = data[os.write(wf, data[:1 << 20]):]
os.fsync(wf)
''')
B.ok('lf = os.open(R + "/lockfile", os.O_RDWR)')
r = B.ok('attempt(fcntl.lockf, lf, fcntl.LOCK_EX | fcntl.LOCK_NB)')
check(r in ('EAGAIN', 'EACCES'), "B cannot take A's lock while A lives", r)
B.ok('[st(R + "/tree/" + p) for p in %r]' % TREE)   # B has the tree cached too

A.signal(signal.SIGKILL)
killed = time.monotonic()
r = B.ok('[timed(os.rename, R + "/tree/d1/f0", R + "/tree/d2/new"), '
         'timed(os.rename, R + "/tree/d1/e", R + "/tree/d2/e")]')
note('renames after the kill took %.3f s and %.3f s' % (r[0][1], r[1][1]))
check(r[0][0] is None and r[1][0] is None, "B's renames succeed", r)
check(r[0][1] < 1.0 and r[1][1] < 1.0, "B's renames in the killed client's cached tree complete promptly (< 1 s)", r)
r = B.ok('timed(fcntl.lockf, lf, fcntl.LOCK_EX)', timeout=30)
waited = time.monotonic() - killed
note('the lock came %.3f s after the kill' % waited)
check(r[0] is None, "B's blocking lock request succeeds", r)
check(waited < 3 * LEASE, "B gets the dead client's lock within 3 leases", waited)
r = B.ok('[os.stat(R + "/synced").st_size, digest(get(R + "/synced")) == digest(blob(5, 3000000))]')
check(r == [3000000, True], 'what A wrote and fsynced before the kill reads back intact', r)
r = B.ok('[st(R + "/tree/d1/f0"), text(R + "/tree/d2/new"), text(R + "/tree/d2/e/h")]')
check(r == ['ENOENT', 'd1/f0', 'd1/e/h'], 'the tree after the renames', r)
C = Agent('C')
r = C.ok('[st(R + "/tree/d1/f0"), text(R + "/tree/d2/new"), sorted(os.listdir(R + "/tree/d2"))]')
check(r == ['ENOENT', 'd1/f0', ['e', 'g', 'new']], 'a new client sees the same tree', r)
  )PY");
}

// 6. A client stopped with SIGSTOP while holding leases: B's changes wait a bounded time
//    (the server revokes the silent session), and A sees them when it continues.
TEST_F(MultiClientTest, StoppedClientDelaysOthersBoundedlyAndSeesTheirChangesAfterwards) {
  orchestrate("stopped", R"PY(
A = Agent('A')
B = Agent('B')
B.ok('os.makedirs(R + "/d"); put(R + "/d/f", b"f"); put(R + "/d/g", b"g"); put(R + "/d/h", b"h")')
A.ok('def look(): return [st(R + "/d/f"), st(R + "/d/g"), st(R + "/d/g2"), text(R + "/d/h"), sorted(os.listdir(R + "/d"))]')
before = A.ok('for i in range(200): _ = look()')
check(before[0]['mode'] == '0o644' and before[2] == 'ENOENT', 'A looked the names up', before)
answered, r = withMetadataStopped(A, '[st(R + "/d/f"), st(R + "/d/g"), st(R + "/d/g2")]')
check(answered and r.get('ok') == before[:3], 'A has the names cached', [answered, r])
B.ok('for i in range(20): _ = [st(R + "/d/f"), st(R + "/d/g")]')

A.signal(signal.SIGSTOP)
stopped = time.monotonic()
r = B.ok('[timed(os.chmod, R + "/d/f", 0o600), timed(os.rename, R + "/d/g", R + "/d/g2"), '
         'timed(put, R + "/d/h", b"h, rewritten")]', timeout=60)
held = time.monotonic() - stopped
A.signal(signal.SIGCONT)
note('with A stopped: chmod %.3f s, rename %.3f s, rewrite %.3f s; %.3f s in all' % (r[0][1], r[1][1], r[2][1], held))
check(all(x[0] is None for x in r), "B's changes succeed", r)
check(all(x[1] < 4 * LEASE for x in r), "each of B's changes completes within 4 leases", r)
check(held < 4 * LEASE, "B's changes together complete within 4 leases", held)

want = [{**before[0], 'mode': '0o600'}, 'ENOENT', before[1], 'h, rewritten', ['f', 'g2', 'h']]
def same(got):
    # ctime/mtime of f may move with chmod; compare what matters.
    return (isinstance(got[0], dict) and got[0]['mode'] == '0o600' and got[0]['ino'] == before[0]['ino'] and
            got[1] == 'ENOENT' and isinstance(got[2], dict) and got[2]['ino'] == before[1]['ino'] and
            got[3:] == want[3:])
got = A.ok('look()')
check(same(got), "A's first stats after SIGCONT see B's changes", got)
time.sleep(LEASE / 2)   # A's renewer runs: a revoked session must not bring old leases back
got = A.ok('look()')
check(same(got), "A's stats a moment later still see B's changes", got)
B.ok('os.chmod(R + "/d/f", 0o640)')
got = A.ok('st(R + "/d/f")')
check(isinstance(got, dict) and got['mode'] == '0o640', "A, a live client again, sees B's next chmod", got)
  )PY");
}

// 7. Write leases: A writes a file it has open and does not close; B's stat sees A's
//    new size at once (A writes back when B's lookup recalls its write lease), for a
//    file A created and for one it opened; and A's later writes are seen by B's next
//    stat again (A asked for the write lease anew).
TEST_F(MultiClientTest, StatByOneClientSeesTheSizeAnotherIsStillWriting) {
  orchestrate("wlease", R"PY(
A = Agent('A')
B = Agent('B')
A.ok("fd = os.open(R + '/new', os.O_CREAT | os.O_WRONLY, 0o644); os.write(fd, blob(1, 300000))")
s = B.ok("st(R + '/new')")
check(isinstance(s, dict) and s['size'] == 300000, 'B sees the size of a file A created and is writing', s)
A.ok("os.write(fd, blob(2, 100000))")
s = B.ok("st(R + '/new')")
check(isinstance(s, dict) and s['size'] == 400000, 'B sees it grow again', s)
A.ok("os.close(fd)")
B.ok("put(R + '/old', b'x' * 10)")
A.ok("fd = os.open(R + '/old', os.O_WRONLY); os.lseek(fd, 0, os.SEEK_END); os.write(fd, b'y' * 90)")
s = B.ok("st(R + '/old')")
check(isinstance(s, dict) and s['size'] == 100, 'B sees the size of an existing file A is appending to', s)
A.ok("os.close(fd)")
check(B.ok("text(R + '/old')") == 'x' * 10 + 'y' * 90, 'and its content after A closed it')
  )PY");
}

// 7b. A write lease lasts while its file is open for writing: once A closed the files it
//     made and wrote, it gives their write leases back (with a renewal asked for at
//     once), and B's first stats need nothing from A; checked with A stopped, where a
//     write lease still held would keep each stat waiting for the recall timeout.
TEST_F(MultiClientTest, WriterThatClosedItsFilesHoldsNoOtherClientUp) {
  orchestrate("closedwriter", R"PY(
A = Agent('A')
B = Agent('B')
A.ok("for i in range(20): put(R + '/w%d' % i, blob(i, 1000 + i))")
A.ok("put(R + '/w0', blob(99, 5000), flags=os.O_APPEND)")   # opened again and written: leased anew
time.sleep(0.2)   # A's early renewal gives the leases back
A.signal(signal.SIGSTOP)
r = B.ok("[timed(st, R + '/w%d' % i) for i in range(20)]", timeout=60)
A.signal(signal.SIGCONT)
slowest = max(x[1] for x in r)
note('B stats 20 files A wrote and closed, A stopped: slowest %.3f s' % slowest)
check(r[0][0]['size'] == 6000 and all(r[i][0]['size'] == 1000 + i for i in range(1, 20)),
      'B sees the sizes A wrote', r)
check(slowest < LEASE / 8, 'no stat of B waits for A (a recall would take %.2f s)' % (LEASE / 4), r)
A.ok("fd = os.open(R + '/w1', os.O_WRONLY | os.O_APPEND); os.write(fd, b'z' * 7)")
s = B.ok("st(R + '/w1')")
check(s['size'] == 1008, 'a file A opened for writing again is leased again: B sees its new size', s)
A.ok("os.close(fd)")
  )PY");
}

// 8. Strict consistency (MYFS_CONSISTENCY=strict in both clients): B reads what A wrote
//    without A closing or syncing, through a file B opened before A wrote.
TEST_F(MultiClientTest, StrictClientsReadEveryCompletedWriteOfAnother) {
  orchestrate("strict", R"PY(
os.environ['MYFS_CONSISTENCY'] = 'strict'
A = Agent('A')
B = Agent('B')
A.ok("fa = os.open(R + '/s', os.O_CREAT | os.O_RDWR, 0o644); os.write(fa, b'first')")
B.ok("fb = os.open(R + '/s', os.O_RDONLY)")
check(B.ok("os.pread(fb, 100, 0).decode()") == 'first', 'B reads a write A has not closed')
A.ok("os.pwrite(fa, b'FIRST and more', 0)")
check(B.ok("os.pread(fb, 100, 0).decode()") == 'FIRST and more', 'B reads the overwrite at once, through the same fd')
check(B.ok("os.fstat(fb).st_size") == 14, 'and its size')
A.ok("os.close(fa)")
B.ok("os.close(fb)")
  )PY");
}

// 9. A mkdir across shards is one call to the parent's shard; the directory's own shard
//    makes it later (before the creator's next call there). Meanwhile every other client
//    finds it as made, changes to it reach the creator's cache, and a creator killed
//    before it sent anything more loses none of its directories.
TEST_F(MultiClientTest, DirectoriesMadeInOneCallAreThereForEveryClient) {
  orchestrate("onecall", R"PY(
N = 40   # fewer than a shard is owed before the creator sends them on their own
A = Agent('A')
B = Agent('B')
A.ok('st(R + "/none")')  # A leases the names in R: the entries of its mkdirs stay cached
A.ok('for i in range(%d): os.mkdir(R + "/d%%d" %% i, 0o750)' % N)
# A's next calls go to no metadata server: what it made is cached (and the directories
# whose shard is owed them stay unmade there until A calls that shard).
answered, made = withMetadataStopped(A, '[st(R + "/d%%d" %% i) for i in range(%d)]' % N)
made = made.get('ok')
check(answered, "A answers for its directories from its cache", made)
check(isinstance(made, list) and
      all(isinstance(m, dict) and m['type'] == 'dir' and m['mode'] == '0o750' and m['nlink'] == 2 for m in made),
      "A's directories as A sees them", made)
seen = B.ok('[st(R + "/d%%d" %% i) for i in range(%d)]' % N)
check(seen == made, 'B finds every directory as A made it, before A sent anything more', seen)
B.ok('for i in range(%d): os.chmod(R + "/d%%d" %% i, 0o700); put(R + "/d%%d/b" %% i, b"from B")' % N)
after = A.ok('[[st(R + "/d%%d" %% i)["mode"], sorted(os.listdir(R + "/d%%d" %% i))] for i in range(%d)]' % N)
check(after == [['0o700', ['b']]] * N, "B's changes reach A's cache of the directories it made", after)

A.ok('for i in range(%d): os.mkdir(R + "/k%%d" %% i, 0o711)' % N)
A.signal(signal.SIGKILL)
C = Agent('C')
kept = C.ok('[st(R + "/k%%d" %% i) for i in range(%d)]' % N)
check(all(isinstance(k, dict) and k['type'] == 'dir' and k['mode'] == '0o711' and k['nlink'] == 2 for k in kept),
      'every directory of the killed creator is there', kept)
C.ok('for i in range(%d): put(R + "/k%%d/c" %% i, b"from C")' % N)
check(C.ok('[text(R + "/k%%d/c" %% i) for i in range(%d)]' % N) == ['from C'] * N, 'and holds files', None)
D = Agent('D')
check(D.ok('sorted(os.listdir(R + "/k7")) + [os.stat(R + "/k7").st_nlink]') == ['c', 2], 'for a new client too', None)
  )PY");
}

// 10. A client that creates files in one directory gets it delegated (after two
//     creates) and makes the rest on its own, sending each without waiting (with every
//     metadata server stopped it still creates). Another client's next look at the
//     directory has every one made first, with its data and mode; an exclusive create of
//     a name the maker made fails for the other client, and one the other made first
//     fails for the maker. A maker killed right after its creates loses none of them.
TEST_F(MultiClientTest, FilesMadeInADelegatedDirectoryAreThereForEveryClient) {
  orchestrate("delegated", R"PY(
N = 300
A = Agent('A')
B = Agent('B')
A.ok('os.mkdir(R + "/g")')
metas = servers('meta')
# (The servers are stopped right after the last of A's creates: a delegation unused
# for a while goes back to its server.)
r = A.ok("""
import signal, threading
guard = threading.Timer(2.0, lambda: [os.kill(p, signal.SIGCONT) for p in @METAS@])
for i in range(@N@): put(R + "/g/f%d" % i, b"x" * (i % 7))
for p in @METAS@: os.kill(p, signal.SIGSTOP)
guard.start()
t0 = time.monotonic()
for i in range(8): os.close(os.open(R + "/g/s%d" % i, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640))
took = time.monotonic() - t0
for p in @METAS@: os.kill(p, signal.SIGCONT)
guard.cancel()
_ = took
""".replace('@N@', str(N)).replace('@METAS@', repr(metas)), timeout=60)
check(r < 1.0, 'A creates in its delegated directory with every metadata server stopped (%.3f s)' % r, r)
names = B.ok('sorted(os.listdir(R + "/g"))')
want = sorted(['f%d' % i for i in range(N)] + ['s%d' % i for i in range(8)])
check(names == want, "B lists every file A made (%d)" % len(names if isinstance(names, list) else []), names)
got = B.ok('[[text(R + "/g/f%%d" %% i), st(R + "/g/f%%d" %% i)["mode"]] for i in range(0, %d, 37)]' % N)
check(got == [['x' * (i % 7), '0o644'] for i in range(0, N, 37)], "and reads what A wrote in them", got)
check(B.ok('st(R + "/g/s3")["mode"]') == '0o640', "the files A made with the servers stopped are there too", None)
check(B.ok('attempt(os.open, R + "/g/f7", os.O_CREAT | os.O_EXCL | os.O_WRONLY)') == 'EEXIST',
      "B's exclusive create of a name A made fails", None)
B.ok('put(R + "/g/fromB", b"B")')
check(A.ok('attempt(os.open, R + "/g/fromB", os.O_CREAT | os.O_EXCL | os.O_WRONLY)') == 'EEXIST',
      "A's exclusive create of a name B made fails", None)

# A stopped while it holds the directory: B's look waits for A's lease to run out, no
# longer, and finds what A made; A, continued, goes on creating there (its delegation
# ran out with its lease: nothing it makes is lost).
A.ok('os.mkdir(R + "/j"); [put(R + "/j/p%d" % i, b"p") for i in range(20)]')
A.signal(signal.SIGSTOP)
r = B.ok('timed(lambda: sorted(os.listdir(R + "/j")))', timeout=60)
A.signal(signal.SIGCONT)
check(r[0] == sorted('p%d' % i for i in range(20)), "B lists what the stopped A made", r)
check(LEASE / 8 < r[1] < 3 * LEASE, 'B waited %.2f s for the stopped A (lease %.1f s)' % (r[1], LEASE), r)
A.ok('for i in range(20): put(R + "/j/q%d" % i, b"q")')
got = B.ok('sorted(os.listdir(R + "/j"))')
check(got == sorted(['p%d' % i for i in range(20)] + ['q%d' % i for i in range(20)]),
      "A's creates after it was continued are all there", got)

A.ok('os.mkdir(R + "/h")')
A.ok('for i in range(%d): put(R + "/h/k%%d" %% i, b"k%%d" %% i)' % N)
A.signal(signal.SIGKILL)
C = Agent('C')
kept = C.ok('sorted(os.listdir(R + "/h"))')
check(kept == sorted('k%d' % i for i in range(N)), 'every file of the killed maker is there', kept)
check(C.ok('[text(R + "/h/k%%d" %% i) for i in range(0, %d, 29)]' % N) == ['k%d' % i for i in range(0, N, 29)],
      'with its data', None)
  )PY");
}

// 11. Under the same delegation a client unlinks files and makes directories on its own
//     too, sending each without waiting: another client finds the names gone, the
//     directories there with their modes and usable by both; a client killed right after
//     its unlinks and mkdirs has them all done.
TEST_F(MultiClientTest, UnlinksAndMkdirsInADelegatedDirectoryAreDoneForEveryClient) {
  orchestrate("unlinked", R"PY(
N = 200
A = Agent('A')
B = Agent('B')
A.ok('os.mkdir(R + "/u")')
A.ok('for i in range(%d): put(R + "/u/f%%d" %% i, b"x" * (i %% 5))' % N)
A.ok('for i in range(0, %d, 2): os.unlink(R + "/u/f%%d" %% i)' % N)
A.ok('for i in range(40): os.mkdir(R + "/u/d%d" % i, 0o750)')
check(A.ok('attempt(os.mkdir, R + "/u/d7")') == 'EEXIST', "A's mkdir of a name it made fails", None)
check(A.ok('attempt(os.unlink, R + "/u/f0")') == 'ENOENT', "A's unlink of a name it unlinked fails", None)
names = B.ok('sorted(os.listdir(R + "/u"))')
want = sorted(['f%d' % i for i in range(1, N, 2)] + ['d%d' % i for i in range(40)])
check(names == want, "B lists what A left and made (%d)" % len(names if isinstance(names, list) else []), names)
modes = B.ok('[[st(R + "/u/d%d" % i)["mode"], st(R + "/u/d%d" % i)["nlink"]] for i in range(40)]')
check(modes == [['0o750', 2]] * 40, "B finds A's directories as A made them", modes)
check(B.ok('st(R + "/u")["nlink"]') == 42, "and the parent's link count", None)
B.ok('put(R + "/u/d3/b", b"from B")')
check(A.ok('sorted(os.listdir(R + "/u/d3"))') == ['b'], "A sees what B put in a directory A made", None)
check(B.ok('[text(R + "/u/f%d" % i) for i in range(1, 20, 2)]') == ['x' * (i % 5) for i in range(1, 20, 2)],
      "the files A kept read back", None)

A.ok('os.mkdir(R + "/v")')
A.ok('for i in range(100): put(R + "/v/k%d" % i, b"k")')
A.ok('for i in range(100): os.unlink(R + "/v/k%d" % i)')
A.ok('for i in range(30): os.mkdir(R + "/v/m%d" % i)')
A.signal(signal.SIGKILL)
C = Agent('C')
kept = C.ok('sorted(os.listdir(R + "/v"))')
check(kept == sorted('m%d' % i for i in range(30)), 'every unlink and mkdir of the killed client is done', kept)
check(C.ok('[len(os.listdir(R + "/v/m%d" % i)) for i in range(30)]') == [0] * 30, 'its directories are empty', None)
C.ok('for i in range(30): os.rmdir(R + "/v/m%d" % i)')
C.ok('os.rmdir(R + "/v")')
  )PY");
}

}  // namespace
}  // namespace myfs::testing
