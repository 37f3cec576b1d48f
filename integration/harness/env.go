package harness

import (
	"net"
	"os"
	"strconv"
	"sync"
)

// T is what the harness needs of a test: testing.TB has it, and so does the
// quickstart, which starts a throwaway cluster the way the tests do.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	Cleanup(func())
}

// InCI reports whether the tests run in CI (CI=true), where anything a test
// needs but cannot get is a failure, never a skip.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Unavailable ends the test because something it needs is missing: a skip on
// a developer's machine, a failure in CI.
func Unavailable(t T, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("required for this test but unavailable in CI: "+format, args...)
	}
	t.Skipf("unavailable: "+format, args...)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no earlier call in this process returned. The kernel may hand out a
// just-closed port again, and two servers given the same port would not
// fail: Caddy binds with SO_REUSEPORT, so they would share it silently.
func FreePort(t T) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, taken := handedOut.LoadOrStore(port, true); !taken {
			return port
		}
	}
	t.Fatalf("finding a free port: the kernel kept offering ports handed out before")
	return 0
}

// handedOut is the set of ports FreePort has returned.
var handedOut sync.Map

// FreeAddr returns "127.0.0.1:<port>" for a port that was free a moment ago.
func FreeAddr(t T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
