package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// countingBackend is a TCP address that counts the connections made to it
// and closes each at once: a backend the proxy must not contact for
// clients that have not logged in.
type countingBackend struct {
	addr     string
	accepted atomic.Int64
}

func startCountingBackend(t *testing.T) *countingBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &countingBackend{addr: ln.Addr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return b
}

// dialRefused connects to addr and reads the ERR packet a refused
// connection gets instead of a greeting.
func dialRefused(t *testing.T, addr string) *wire.SQLError {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, rawTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(rawTimeout))
	p, err := wire.NewConn(bufio.NewReader(conn), nil).ReadPacket()
	if err != nil {
		t.Fatalf("reading the refusal: %v", err)
	}
	e, err := wire.ParseERR(p)
	if err != nil {
		t.Fatalf("got a greeting or garbage, want an ERR packet: %v (%q)", err, p)
	}
	wantClosed(t, conn, "a refused connection")
	return e
}

// preauthView is the part of /mysql/servers these tests read.
type preauthView struct {
	Unauthenticated    int64            `json:"unauthenticated"`
	SessionsOpen       int64            `json:"sessions_open"`
	ConnectionsRefused map[string]int64 `json:"connections_refused"`
}

func preauthState(t *testing.T, fd *harness.Frontdesk) preauthView {
	t.Helper()
	body, err := fd.AdminGet("/mysql/servers")
	if err != nil {
		t.Fatal(err)
	}
	var servers map[string]preauthView
	if err := json.Unmarshal(body, &servers); err != nil {
		t.Fatalf("/mysql/servers: %v: %s", err, body)
	}
	return servers["main"]
}

// TestMySQLPreAuthLimits drives the limits on clients that have not logged
// in through the built binary: the cap on unauthenticated connections, the
// packet size before login, the login-failure limit and the total cap,
// each answered as MySQL does (1040, 1043, 1129) and counted; and no
// backend is contacted for any of these clients (the backends here are
// addresses that count connections: only the monitor's first look reaches
// them).
func TestMySQLPreAuthLimits(t *testing.T) {
	primary, replica := startCountingBackend(t), startCountingBackend(t)
	config := withServerOptions(t,
		"max_connections 5",
		"max_unauthenticated 3",
		"login_failure_limit 3 2s",
		"health {\n\t\t\t\tinterval 1h\n\t\t\t\ttimeout 1s\n\t\t\t}")
	addr := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, config, harness.Caddyfile,
		"FRONTDESK_MYSQL_LISTEN="+addr,
		"FRONTDESK_MYSQL_PRIMARY="+primary.addr,
		"FRONTDESK_MYSQL_REPLICAS="+replica.addr,
		"FRONTDESK_MYSQL_USER="+harness.TestUser,
		"FRONTDESK_MYSQL_PASSWORD="+harness.TestPassword,
	)
	// The monitor's first look (greeting and check) ends before the config
	// starts; settle on its count.
	var seen int64
	err := harness.Eventually(10*time.Second, 200*time.Millisecond, func() error {
		now := primary.accepted.Load() + replica.accepted.Load()
		if now == 0 || now != seen {
			seen = now
			return fmt.Errorf("backends contacted %d times so far", now)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("max_unauthenticated", func(t *testing.T) {
		var waiting []*greetedConn
		for range 3 {
			waiting = append(waiting, dialGreeted(t, addr))
		}
		e := dialRefused(t, addr)
		if e.Code != wire.ERConCountError || !strings.Contains(e.Message, "max_unauthenticated") {
			t.Errorf("a 4th client logging in: %v, want ERR 1040 naming max_unauthenticated", e)
		}
		if st := preauthState(t, fd); st.Unauthenticated != 3 || st.ConnectionsRefused["max_unauthenticated"] != 1 {
			t.Errorf("admin API: %+v, want 3 unauthenticated and 1 refused", st)
		}
		// A handshake-sized packet is all a client may send before login.
		waiting[0].send(bytes.Repeat([]byte{'x'}, 20<<10))
		wantSQLError(t, "a 20 KiB handshake response", waiting[0].reply(), wire.ERHandshakeError)
		wantClosed(t, waiting[0].conn, "after an oversized handshake response")
		for _, c := range waiting {
			c.conn.Close()
		}
		waitPreauth(t, fd, "the unauthenticated count to drop", func(st preauthView) bool { return st.Unauthenticated == 0 })
	})

	t.Run("login_failure_limit", func(t *testing.T) {
		// The oversized handshake above counted once already.
		for i := range 2 {
			wantSQLError(t, fmt.Sprintf("wrong password %d", i+1), dialGreeted(t, addr).login(harness.TestUser, "wrong"), wire.ERAccessDeniedError)
		}
		e := dialRefused(t, addr)
		if e.Code != wire.ERHostIsBlocked || !strings.Contains(e.Message, "127.0.0.1") {
			t.Errorf("after 3 failed logins: %v, want ERR 1129 naming the address", e)
		}
		if st := preauthState(t, fd); st.ConnectionsRefused["login_failures"] != 1 {
			t.Errorf("admin API: %+v, want 1 refused for login failures", st)
		}
		// The block lifts by itself once the window has passed.
		err := harness.Eventually(10*time.Second, 250*time.Millisecond, func() error {
			conn, err := net.DialTimeout("tcp", addr, rawTimeout)
			if err != nil {
				return err
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(rawTimeout))
			p, err := wire.NewConn(bufio.NewReader(conn), nil).ReadPacket()
			if err == nil && len(p) > 0 && p[0] == wire.HeaderERR {
				return fmt.Errorf("still refused: %q", p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := dialGreeted(t, addr).login(harness.TestUser, harness.TestPassword); err != nil {
			t.Fatalf("the right password after the block lifted: %v", err)
		}
	})

	t.Run("max_connections", func(t *testing.T) {
		waitPreauth(t, fd, "earlier sessions to end", func(st preauthView) bool { return st.SessionsOpen == 0 })
		for i := range 5 {
			if err := dialGreeted(t, addr).login(harness.TestUser, harness.TestPassword); err != nil {
				t.Fatalf("session %d: %v", i+1, err)
			}
		}
		e := dialRefused(t, addr)
		if e.Code != wire.ERConCountError || !strings.Contains(e.Message, "max_connections") {
			t.Errorf("a 6th connection: %v, want ERR 1040 naming max_connections", e)
		}
		metrics, err := fd.AdminGet("/metrics")
		if err != nil {
			t.Fatal(err)
		}
		for _, reason := range []string{"max_connections", "max_unauthenticated", "login_failures"} {
			series := fmt.Sprintf(`caddy_frontdesk_mysql_connections_refused_total{reason="%s",server="main"} `, reason)
			_, value, found := strings.Cut(string(metrics), series)
			if value, _, _ = strings.Cut(value, "\n"); !found || value == "0" {
				t.Errorf("/metrics: %s%q, want a count", series, value)
			}
		}
	})

	if now := primary.accepted.Load() + replica.accepted.Load(); now != seen {
		t.Errorf("the backends were contacted %d more times for clients that never ran a statement", now-seen)
	}
}

func waitPreauth(t *testing.T, fd *harness.Frontdesk, what string, ok func(preauthView) bool) {
	t.Helper()
	err := harness.Eventually(10*time.Second, 50*time.Millisecond, func() error {
		if st := preauthState(t, fd); !ok(st) {
			return fmt.Errorf("waiting for %s: %+v", what, st)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
