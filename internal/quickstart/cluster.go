package main

import (
	"database/sql"
	"fmt"
	"os"
	"runtime"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// runner is the quickstart's stand-in for a test: it gives the harness what
// it needs to start a throwaway MariaDB cluster the way the tests do, and
// stops everything it started when the quickstart ends.
type runner struct {
	cleanups []func()
	failed   bool
}

func (r *runner) Helper()                       {}
func (r *runner) Logf(format string, a ...any)  { fmt.Printf(format+"\n", a...) }
func (r *runner) Failed() bool                  { return r.failed }
func (r *runner) Cleanup(f func())              { r.cleanups = append(r.cleanups, f) }
func (r *runner) Skipf(format string, a ...any) { r.Fatalf(format, a...) }

// Fatalf reports why the cluster could not start and ends the goroutine
// that asked, like testing.T does; startCluster turns that into an error.
func (r *runner) Fatalf(format string, a ...any) {
	r.failed = true
	fmt.Fprintf(os.Stderr, "quickstart: "+format+"\n", a...)
	runtime.Goexit()
}

// stop ends everything the cluster started, newest first.
func (r *runner) stop() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// startCluster starts a MariaDB primary and one replica with a demo table,
// or returns nil if that is not possible here.
func startCluster(r *runner) *harness.Cluster {
	done := make(chan *harness.Cluster, 1)
	go func() {
		defer close(done)
		c := harness.StartCluster(r, 1)
		db, err := sql.Open("mysql", c.Primary.UserDSN())
		if err != nil {
			r.Fatalf("%v", err)
		}
		defer db.Close()
		for _, q := range []string{
			"CREATE TABLE rooms (number INT PRIMARY KEY, guest VARCHAR(64))",
			"INSERT INTO rooms VALUES (101, 'Ada'), (102, 'Grace'), (103, NULL)",
		} {
			if _, err := db.Exec(q); err != nil {
				r.Fatalf("preparing the demo table: %v", err)
			}
		}
		c.WaitReplicated()
		done <- c
	}()
	return <-done
}
