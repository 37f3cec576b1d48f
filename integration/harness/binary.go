package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// BinaryEnv names the environment variable that points the harness at an
// already built frontdesk binary (`make test` sets it to bin/frontdesk).
// Without it, the harness builds the binary once per test run.
const BinaryEnv = "FRONTDESK_BINARY"

// BuildFlags are the go build flags of every frontdesk binary: the same as
// `make build` and xcaddy.json (with CGO_ENABLED=0), so all of them share
// the build cache.
var BuildFlags = []string{"-trimpath", "-ldflags", "-w -s"}

var (
	buildOnce sync.Once
	buildPath string
	buildDir  string
	buildErr  error
)

// RepoRoot is the root of the Frontdesk repository.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binary returns the path of the frontdesk binary under test, building it on
// first use when FRONTDESK_BINARY is not set.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv(BinaryEnv); p != "" {
			if _, err := os.Stat(p); err != nil {
				buildErr = fmt.Errorf("%s=%s: %v", BinaryEnv, p, err)
			}
			buildPath = p
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "frontdesk-bin-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "frontdesk")
		args := append([]string{"build"}, BuildFlags...)
		args = append(args, "-o", buildPath, "./cmd/frontdesk")
		cmd := exec.Command("go", args...)
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/frontdesk: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("frontdesk binary: %v", buildErr)
	}
	return buildPath
}

// Main runs the tests of a package that uses the harness and removes what the
// harness built for the run. Call it from TestMain: os.Exit(harness.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}
