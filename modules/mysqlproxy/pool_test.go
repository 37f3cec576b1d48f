package mysqlproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// TestPoolTakeOrder checks which idle connection a session gets: a clean
// one nobody owns, else a clean one another session parked (the longest
// parked), and one with another session's state only when the pool is
// full, since that one must be reset first.
func TestPoolTakeOrder(t *testing.T) {
	cfg := &Pool{}
	if err := cfg.provision(); err != nil {
		t.Fatal(err)
	}
	key := poolKey{user: "app", db: "shop"}
	other := poolKey{user: "app", db: "other"}
	a, b := &session{}, &session{}
	now := time.Now()
	conn := func(k poolKey, clean bool, owner *session) *backendConn {
		return &backendConn{key: k, clean: clean, owner: owner, opened: now, poolCfg: cfg}
	}
	dirtyA := conn(key, false, a)
	parkedOld := conn(key, true, b)
	parkedNew := conn(key, true, a)
	free := conn(key, true, nil)
	wrongKey := conn(other, true, nil)

	p := &connPool{idle: []*backendConn{dirtyA, parkedOld, free, parkedNew, wrongKey}, open: 5}
	for i, want := range []*backendConn{free, parkedOld, parkedNew} {
		if got := p.take(key, cfg, now, false); got != want {
			t.Fatalf("take %d: got %+v, want %+v", i, got, want)
		}
	}
	if got := p.take(key, cfg, now, false); got != nil {
		t.Fatalf("a pool with room handed out a connection with another session's state: %+v", got)
	}
	if got := p.take(key, cfg, now, true); got != dirtyA {
		t.Fatalf("a full pool: got %+v, want the dirty connection", got)
	}
	if len(p.idle) != 1 || p.idle[0] != wrongKey {
		t.Fatalf("left idle: %v", p.idle)
	}
}

// TestPoolReclaim checks that a session takes back a connection it parked
// only while no other session took it since.
func TestPoolReclaim(t *testing.T) {
	cfg := &Pool{}
	if err := cfg.provision(); err != nil {
		t.Fatal(err)
	}
	a, b := &session{}, &session{}
	p := &connPool{}
	c := &backendConn{pool: p, key: poolKey{user: "app"}, clean: true, opened: time.Now(), poolCfg: cfg, owner: a, held: true}
	p.open, p.busy = 1, 1

	c.park()
	if p.busy != 0 || len(p.idle) != 1 || c.held || c.owner != a {
		t.Fatalf("parked: busy %d idle %d held %v", p.busy, len(p.idle), c.held)
	}
	if !c.reclaim(a) || !c.held || p.busy != 1 || len(p.idle) != 0 {
		t.Fatal("the session that parked the connection could not take it back")
	}
	c.park()
	if c.reclaim(b) {
		t.Fatal("another session reclaimed a connection it never had")
	}
	// b takes it from the pool: a's claim is void.
	p.mu.Lock()
	got := p.take(c.key, cfg, time.Now(), false)
	got.owner, got.held = b, true
	p.busy++
	p.mu.Unlock()
	if got != c {
		t.Fatal("take did not hand out the parked connection")
	}
	c.park()
	if c.reclaim(a) {
		t.Fatal("a session reclaimed a connection another session took meanwhile")
	}
	if !c.reclaim(b) {
		t.Fatal("the new owner could not take its connection back")
	}
}

// TestRetiredConnectionHandsOverLastInsertID checks that a connection the
// pool retires (here past its idle timeout) while it holds a parked
// session's LAST_INSERT_ID() hands the value over before it is closed, as
// a session that takes it does.
func TestRetiredConnectionHandsOverLastInsertID(t *testing.T) {
	cfg := &Pool{IdleTimeout: caddy.Duration(time.Minute)}
	if err := cfg.provision(); err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	defer server.Close()
	served := make(chan error, 1)
	go func() {
		pc := wire.NewConn(bufio.NewReader(server), bufio.NewWriter(server))
		p, err := pc.ReadPacket()
		if err == nil && string(p[1:]) != "SELECT LAST_INSERT_ID()" {
			err = fmt.Errorf("the pool asked %q", p[1:])
		}
		if err == nil {
			_, err = server.Write(frame(textResult(harnessClientCaps, wire.StatusAutocommit, "4242")))
		}
		served <- err
		io.Copy(io.Discard, server) // COM_QUIT
	}()
	s := &session{}
	p := &connPool{open: 1}
	b := &backendConn{pool: p, conn: client, caps: harnessClientCaps, poolCfg: cfg, opened: time.Now(),
		idleSince: time.Now().Add(-time.Hour), owner: s, insertOf: s,
		pc: wire.NewConn(bufio.NewReader(client), bufio.NewWriter(client))}
	p.idle = []*backendConn{b}

	p.reap(time.Now())
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	h := s.lostInsertID.Load()
	if h == nil {
		t.Fatal("the pool closed the connection holding the session's LAST_INSERT_ID() without a handover")
	}
	<-h.done
	if h.err != nil || h.value != "4242" {
		t.Fatalf("handed over %q, %v; want 4242", h.value, h.err)
	}
	if p.open != 0 || len(p.idle) != 0 {
		t.Fatalf("pool after the reap: open %d, idle %d", p.open, len(p.idle))
	}
}
