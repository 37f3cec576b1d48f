package mysqlproxy

import (
	"net"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

func TestLoginFailureLimit(t *testing.T) {
	lim := &LoginFailureLimit{MaxFailures: 3, Window: caddy.Duration(time.Minute)}
	tr := newFailureTracker()
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 4000}
	samePort := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5000}
	other := &net.TCPAddr{IP: net.ParseIP("192.0.2.2"), Port: 4000}
	now := time.Unix(1000, 0)
	for i := range 3 {
		if _, blocked := tr.blocked(a, lim, now); blocked {
			t.Fatalf("blocked after %d failures, limit 3", i)
		}
		tr.record(a, lim, true, now)
	}
	if host, blocked := tr.blocked(samePort, lim, now.Add(59*time.Second)); !blocked || host != "192.0.2.1" {
		t.Fatalf("3 failures: blocked=%v for %q, want the address blocked whatever its port", blocked, host)
	}
	if _, blocked := tr.blocked(other, lim, now); blocked {
		t.Fatal("another address is blocked too")
	}
	if _, blocked := tr.blocked(a, lim, now.Add(time.Minute)); blocked {
		t.Fatal("still blocked once the window has passed")
	}
	// A success clears the count.
	tr.record(a, lim, true, now)
	tr.record(a, lim, true, now)
	tr.record(a, lim, false, now)
	tr.record(a, lim, true, now)
	if _, blocked := tr.blocked(a, lim, now); blocked {
		t.Fatal("blocked although a successful login cleared the earlier failures")
	}
	// Unix-socket clients have no address to count.
	unix := &net.UnixAddr{Name: "@", Net: "unix"}
	for range 5 {
		tr.record(unix, lim, true, now)
	}
	if _, blocked := tr.blocked(unix, lim, now); blocked {
		t.Fatal("a unix-socket client is blocked")
	}
}

func TestLoginFailureTrackerIsBounded(t *testing.T) {
	lim := &LoginFailureLimit{MaxFailures: 1, Window: caddy.Duration(time.Minute)}
	tr := newFailureTracker()
	now := time.Unix(1000, 0)
	ip := func(i int) *net.TCPAddr { return &net.TCPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i))} }
	for i := range maxTrackedAddresses + 10 {
		tr.record(ip(i), lim, true, now)
	}
	if n := len(tr.byHost); n != maxTrackedAddresses {
		t.Fatalf("tracking %d addresses, want at most %d", n, maxTrackedAddresses)
	}
	// Once the first ones expire, new addresses are tracked again.
	later := now.Add(2 * time.Minute)
	tr.record(ip(maxTrackedAddresses+20), lim, true, later)
	if _, blocked := tr.blocked(ip(maxTrackedAddresses+20), lim, later); !blocked || len(tr.byHost) != 1 {
		t.Fatalf("after expiry: %d tracked, want the expired swept and the new address tracked", len(tr.byHost))
	}
}

func TestAdmitCaps(t *testing.T) {
	srv := &Server{name: "caps", MaxConnections: 3, MaxUnauthenticated: 2, stats: statsFor("TestAdmitCaps")}
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	if err := srv.admit(server); err != nil {
		t.Fatal(err)
	}
	if err := srv.admit(server); err != nil {
		t.Fatal(err)
	}
	err := srv.admit(server)
	if err == nil || err.Code != wire.ERConCountError {
		t.Fatalf("third unauthenticated connection: %v, want error 1040", err)
	}
	srv.loginDone(server, true, false)
	if err := srv.admit(server); err != nil {
		t.Fatalf("after one logged in: %v", err)
	}
	srv.loginDone(server, true, false)
	err = srv.admit(server)
	if err == nil || err.Code != wire.ERConCountError {
		t.Fatalf("fourth connection with max_connections 3: %v, want error 1040", err)
	}
	got := srv.stats.snapshot()
	if got.SessionsOpen != 3 || got.Unauthenticated != 1 ||
		got.ConnectionsRefused["max_unauthenticated"] != 1 || got.ConnectionsRefused["max_connections"] != 1 {
		t.Fatalf("counts %+v", got)
	}
}
