package mysqlproxy

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestCloseKindOf(t *testing.T) {
	for _, tc := range []struct {
		reason string
		err    error
		want   string
	}{
		{reasonClientQuit, nil, "client_quit"},
		{reasonClientLeft, io.EOF, "client_left"},
		{reasonIdleTimeout, nil, "idle_timeout"},
		{reasonServerStopped, nil, "server_stopped"},
		{"Access denied for user 'u'@'127.0.0.1' (using password: YES)", errLoginFailed, "login_failed"},
		{"x", fmt.Errorf("mysql packet: relay: %w", &stallError{d: 1}), "write_timeout"},
		{"x", errors.New("backend 127.0.0.1:3306 failed mid-session: EOF"), "error"},
	} {
		if got := closeKindNames[closeKindOf(tc.reason, tc.err)]; got != tc.want {
			t.Errorf("closeKindOf(%q, %v) = %s, want %s", tc.reason, tc.err, got, tc.want)
		}
	}
}

func TestCloseCountsSnapshotNamesEveryKind(t *testing.T) {
	c := newKindCounts(closeKindNames)
	c.add(int(closedWriteTimeout))
	c.add(int(closedWriteTimeout))
	snap := c.snapshot()
	if len(snap) != int(numCloseKinds) || snap["write_timeout"] != 2 || snap["error"] != 0 {
		t.Errorf("snapshot = %v, want every kind, write_timeout 2", snap)
	}
}
