package mysqlproxy

import (
	"testing"
	"time"
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
