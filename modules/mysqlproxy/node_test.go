package mysqlproxy

import (
	"errors"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// testNode is a node with a monitor finding and no goroutine.
func testNode(addr string, monitor bool, h *healthState) *node {
	n := &node{key: addr, addr: backendAddr{network: "tcp", address: addr}}
	n.settings.Store(&nodeSettings{health: Health{BreakerFailures: 1, BreakerOpenTime: defaultBreakerOpenTime}, monitor: monitor})
	n.logger.Store(zap.NewNop())
	n.breaker.Store(n.newBreaker(time.Hour))
	if h != nil {
		n.health.Store(h)
		if h.Reachable {
			n.observeLatency(h.Latency)
		}
	}
	return n
}

func lag(d time.Duration) *time.Duration { return &d }

func healthy(latency time.Duration) *healthState {
	return &healthState{Reachable: true, Latency: latency, Replicating: true, IORunning: true, SQLRunning: true, Lag: lag(0)}
}

func TestUsableReplica(t *testing.T) {
	up := testNode("primary:1", true, &healthState{Reachable: true})
	down := testNode("primary:1", true, &healthState{Error: "refused"})
	for _, tc := range []struct {
		name    string
		h       *healthState
		primary *node
		want    bool
	}{
		{"healthy", healthy(time.Millisecond), up, true},
		{"not checked yet", nil, up, false},
		{"unreachable", &healthState{Error: "refused"}, up, false},
		{"SQL thread stopped", &healthState{Reachable: true, IORunning: true}, up, false},
		{"lag unknown", &healthState{Reachable: true, IORunning: true, SQLRunning: true}, up, false},
		{"lag over the limit", &healthState{Reachable: true, IORunning: true, SQLRunning: true, Lag: lag(11 * time.Second)}, up, false},
		{"lag at the limit", &healthState{Reachable: true, IORunning: true, SQLRunning: true, Lag: lag(10 * time.Second)}, up, true},
		{"IO stopped, primary up", &healthState{Reachable: true, SQLRunning: true}, up, false},
		{"IO stopped, primary down", &healthState{Reachable: true, SQLRunning: true}, down, true},
	} {
		if got := testNode("r:1", true, tc.h).usableReplica(10*time.Second, tc.primary); got != tc.want {
			t.Errorf("%s: usable = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Without a monitor, only the breaker judges.
	n := testNode("r:1", false, nil)
	if !n.usableReplica(time.Second, up) {
		t.Error("an unmonitored replica with a closed breaker is not usable")
	}
	done, _ := n.breaker.Load().Allow()
	done(errTest)
	if n.usableReplica(time.Second, up) {
		t.Error("a replica whose breaker opened is still usable")
	}
	// Once its open time has passed, the breaker lets a probe through.
	n.breaker.Store(n.newBreaker(time.Millisecond))
	done, _ = n.breaker.Load().Allow()
	done(errTest)
	for i := 0; !n.usableReplica(time.Second, up); i++ {
		if i == 1000 {
			t.Fatal("a replica whose breaker's open time has passed is still not usable")
		}
		time.Sleep(time.Millisecond)
	}
	if s := n.breaker.Load().State(); s != gobreaker.StateHalfOpen {
		t.Errorf("breaker %s after its open time, want half-open", s)
	}
}

var errTest = &backendError{err: gobreaker.ErrOpenState}

func TestReplicasByCost(t *testing.T) {
	primary := testNode("p:1", true, &healthState{Reachable: true})
	a := testNode("a:1", true, healthy(time.Millisecond))
	b := testNode("b:1", true, healthy(3*time.Millisecond))
	slow := testNode("slow:1", true, healthy(80*time.Millisecond))
	stopped := testNode("stopped:1", true, &healthState{Reachable: true, IORunning: true})
	srv := &Server{Health: &Health{MaxReplicationLag: defaultMaxReplicationLag}, nodes: []*node{primary, a, b, slow, stopped}}

	firsts := map[string]int{}
	for offset := range 4 {
		got := srv.replicasByCost(10*time.Second, offset)
		if len(got) != 3 || got[2] != slow {
			t.Fatalf("offset %d: %v; want the two fast replicas first, then the slow one, and not the stopped one", offset, keys(got))
		}
		firsts[got[0].key]++
	}
	// Latencies under the floor are noise: sessions rotate over both.
	if firsts["a:1"] == 0 || firsts["b:1"] == 0 {
		t.Errorf("first choices over four sessions: %v; want both fast replicas", firsts)
	}
	// Work in flight makes a replica more expensive than its twin.
	a.inFlight.Add(5)
	for offset := range 2 {
		if got := srv.replicasByCost(10*time.Second, offset); got[0] != b {
			t.Errorf("offset %d: %v; want the idle replica first", offset, keys(got))
		}
	}
}

func keys(nodes []*node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.key)
	}
	return out
}

func TestDiscoveredRoles(t *testing.T) {
	old := testNode("old:1", true, &healthState{Reachable: true, ReadOnly: true})
	promoted := testNode("new:1", true, &healthState{Reachable: true})
	replicaState := healthy(time.Millisecond)
	replicaState.ReadOnly = true
	other := testNode("other:1", true, replicaState)
	srv := &Server{discover: true, nodes: []*node{old, promoted, other}}
	if srv.primary() != promoted || len(srv.replicas()) != 2 || srv.replicas()[0] != old {
		t.Fatalf("primary %v, replicas %v; want the writable server as primary", srv.primary(), keys(srv.replicas()))
	}
	promoted.health.Store(&healthState{Reachable: true, ReadOnly: true})
	if srv.primary() != nil || len(srv.replicas()) != 3 {
		t.Fatalf("with every server read_only: primary %v, want none", srv.primary())
	}
}

// TestNodeCommitsFollowConfigs: a config that keeps a backend keeps its
// breaker, open or not; one that changes the open time gets a new one, but
// only once it starts; and when a started config is stopped because
// another app refused it, the running config's breaker and settings are in
// force again.
func TestNodeCommitsFollowConfigs(t *testing.T) {
	addr := backendAddr{network: "tcp", address: "127.0.0.1:1"}
	settings := func(open time.Duration) *nodeSettings {
		return &nodeSettings{health: Health{BreakerFailures: 1, BreakerOpenTime: caddy.Duration(open)}}
	}
	// provision and start are what a config does to the node.
	provision := func(open time.Duration) (*node, *Server, *nodeSettings) {
		set := settings(open)
		n, err := acquireNode(addr, set, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { releaseNode(n) })
		return n, new(Server), set
	}
	n, running, set := provision(time.Minute)
	n.commit(running, set, zap.NewNop())
	done, err := n.breaker.Load().Allow()
	if err != nil {
		t.Fatal(err)
	}
	done(errors.New("connection refused"))
	open := n.breaker.Load()
	if open.State() != gobreaker.StateOpen {
		t.Fatalf("breaker %s after a failure, want open", open.State())
	}

	same, next, nextSet := provision(time.Minute)
	if same != n {
		t.Fatal("a config that keeps the backend got another node")
	}
	same.commit(next, nextSet, zap.NewNop())
	if n.breaker.Load() != open || n.settings.Load() != nextSet {
		t.Errorf("a started config with the same open time: breaker replaced or settings not in force")
	}
	n.withdraw(running) // the old config stops after the reload

	_, refused, refusedSet := provision(time.Second)
	if n.breaker.Load() != open || n.settings.Load() != nextSet {
		t.Fatalf("a provisioned config that has not started changed the node")
	}
	n.commit(refused, refusedSet, zap.NewNop())
	if b := n.breaker.Load(); b.State() != gobreaker.StateClosed || b.openTime != time.Second || n.settings.Load() != refusedSet {
		t.Errorf("a started config with another open time: breaker %s with open time %s, want a new closed one of 1s", b.State(), b.openTime)
	}
	n.withdraw(refused) // another app refused the config: Caddy stops it
	if n.breaker.Load() != open || n.settings.Load() != nextSet {
		t.Errorf("after a refused config stopped, the running config's breaker and settings are not in force")
	}
}

func TestBreakerCountsBackendHealthOnly(t *testing.T) {
	for code, counts := range map[uint16]bool{
		wire.ERConCountError: true, wire.ERServerShutdown: true, wire.ERHostIsBlocked: true,
		wire.ERAccessDeniedError: false, wire.ERTooManyUserConnections: false, 1226: false, wire.ERBadDBError: false,
	} {
		if got := !notABackendFailure(wire.NewSQLError(code, "x")); got != counts {
			t.Errorf("error %d counts against the backend: %v, want %v", code, got, counts)
		}
	}
	if notABackendFailure(errors.New("connection refused")) {
		t.Error("a failure to connect does not count against the backend")
	}
}
