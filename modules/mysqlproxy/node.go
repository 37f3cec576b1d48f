package mysqlproxy

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// nodes holds what the proxy knows about each backend server, across config
// generations: its circuit breaker, its load, and what the monitor saw. A
// reload that keeps a backend keeps all of it.
var nodes = caddy.NewUsagePool()

// node is one backend server as the proxy sees it.
type node struct {
	key  string
	addr backendAddr
	// breaker is replaced, closed, when a config changes its open time
	// (gobreaker fixes it at creation); the failure count is read live.
	breaker atomic.Pointer[nodeBreaker]
	// inFlight counts commands running on the server; conns counts the
	// sessions' open connections to it; routed counts commands sent.
	inFlight atomic.Int64
	conns    atomic.Int64
	routed   atomic.Int64
	// pool holds the idle connections of the backend when pooling is on.
	pool connPool
	// writes is the highest position sessions saw this server commit, for
	// global read-your-writes.
	writes writePositions
	// latency is the monitor's check latency, smoothed (nanoseconds).
	latency atomic.Int64
	// health is the monitor's last finding; nil before the first check or
	// with the monitor off.
	health atomic.Pointer[healthState]
	// settings and logger are those of the newest started config that uses
	// the node (configs), or of the config that made it until that starts.
	settings atomic.Pointer[nodeSettings]
	logger   atomic.Pointer[zap.Logger]
	configs  committed[*nodeConfig]

	lastErr atomic.Pointer[string]
	// greeting is what the backend's handshake said, read by the monitor
	// once (see Server.greeting); nil until then.
	greeting atomic.Pointer[greeting]
	// checked is closed after the monitor's first check (or at once with
	// the monitor off), so a new config routes on facts from the start.
	checked chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// nodeBreaker is a node's circuit breaker with the open time it was made
// with.
type nodeBreaker struct {
	*gobreaker.TwoStepCircuitBreaker[struct{}]
	openTime time.Duration
	// tripped is set when the breaker opens, and cleared when it leaves
	// the open state (see isOpen).
	tripped atomic.Bool
}

// nodeConfig is what one config commits to a node.
type nodeConfig struct {
	settings *nodeSettings
	breaker  *nodeBreaker
	logger   *zap.Logger
}

// nodeSettings are the parts of a server's config that a node uses.
type nodeSettings struct {
	health  Health
	monitor bool // false when there are no monitor credentials
}

// healthState is what one check of a backend found.
type healthState struct {
	Checked   time.Time     `json:"checked"`
	Reachable bool          `json:"reachable"`
	Latency   time.Duration `json:"latency_ns"`
	ReadOnly  bool          `json:"read_only"`
	// Replicating is set when the server has a replication source.
	Replicating bool `json:"replicating"`
	IORunning   bool `json:"io_running"`
	SQLRunning  bool `json:"sql_running"`
	// Lag is Seconds_Behind_Master; nil when unknown (NULL).
	Lag  *time.Duration `json:"lag_ns,omitempty"`
	GTID string         `json:"gtid_position,omitempty"`
	// SQLMode is the server's global sql_mode: what a new session's
	// statements are lexed with until its primary connection reports its
	// own. Nil when unknown.
	SQLMode *string `json:"sql_mode,omitempty"`
	// SessionDefaults is a digest of the global values of the server's
	// session variables (what a new connection starts with), read while
	// pooling is on: a pooled connection reset under other values is reset
	// again before use. Empty when not read.
	SessionDefaults string `json:"session_defaults,omitempty"`
	Error           string `json:"error,omitempty"`
}

// healthState returns the monitor's last finding, nil for a nil node or
// before the first check.
func (n *node) healthState() *healthState {
	if n == nil {
		return nil
	}
	return n.health.Load()
}

// acquireNode returns the node for addr. A node new to the process is made
// with the config's settings and its monitor started; a node that the
// running config uses too is left as it is until the new config is
// accepted (commit). Each call must be paired with releaseNode.
func acquireNode(addr backendAddr, settings *nodeSettings, logger *zap.Logger) (*node, error) {
	key := addr.String()
	val, _, err := nodes.LoadOrNew(key, func() (caddy.Destructor, error) {
		n := &node{key: key, addr: addr, checked: make(chan struct{}), stop: make(chan struct{}), stopped: make(chan struct{})}
		n.configs.apply = n.apply
		n.apply(n.configFor(settings, logger))
		go n.monitor()
		return n, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(*node), nil
}

// commit puts owner's settings in force on the node: its monitor's
// credentials and interval, its breaker's thresholds (a new, closed breaker
// if the open time changed), and its logger. A config commits its nodes
// when it starts and withdraws them when it stops, so that a config that is
// refused changes nothing (see committed).
func (n *node) commit(owner *Server, settings *nodeSettings, logger *zap.Logger) {
	n.configs.commit(owner, n.configFor(settings, logger))
}

// withdraw puts the settings of the newest config still started back in
// force, if owner's were.
func (n *node) withdraw(owner *Server) { n.configs.withdraw(owner) }

// configFor makes what a config commits to the node, keeping the breaker in
// force when its open time stays.
func (n *node) configFor(settings *nodeSettings, logger *zap.Logger) *nodeConfig {
	openTime := time.Duration(settings.health.BreakerOpenTime)
	b := n.breaker.Load()
	if b == nil || b.openTime != openTime {
		b = n.newBreaker(openTime)
	}
	return &nodeConfig{settings: settings, breaker: b, logger: logger.With(zap.String("backend", n.key))}
}

// apply puts c in force; nil (no config left) changes nothing.
func (n *node) apply(c *nodeConfig) {
	if c == nil {
		return
	}
	n.settings.Store(c.settings)
	n.breaker.Store(c.breaker)
	n.logger.Store(c.logger)
}

// newBreaker makes the node's circuit breaker: it opens after the
// configured number of failures in a row, for openTime.
func (n *node) newBreaker(openTime time.Duration) *nodeBreaker {
	b := &nodeBreaker{openTime: openTime}
	b.TwoStepCircuitBreaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name: n.key,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(max(n.settings.Load().health.BreakerFailures, 1))
		},
		Timeout:    openTime,
		IsExcluded: notABackendFailure,
		OnStateChange: func(name string, from, to gobreaker.State) {
			b.tripped.Store(to == gobreaker.StateOpen)
			n.breakerChanged(name, from, to)
		},
	})
	return b
}

// isOpen reports whether the breaker keeps the backend out. It is asked
// for every statement, by every session: while the breaker is closed it
// takes no lock (gobreaker's State does, and reads the clock).
func (b *nodeBreaker) isOpen() bool {
	// An open breaker turns half-open lazily, when asked: ask it.
	return b.tripped.Load() && b.State() == gobreaker.StateOpen
}

func releaseNode(n *node) { _, _ = nodes.Delete(n.key) }

// Destruct stops the monitor when no config uses the backend any more.
func (n *node) Destruct() error {
	close(n.stop)
	<-n.stopped
	n.pool.prune(func(string) bool { return false })
	return nil
}

// notABackendFailure tells the breaker which login errors say nothing about
// the server's health: the server answered, and refused for a reason of one
// account's or client's (a wrong password, an account's connection or
// resource limit, a database that does not exist). Only a server that is
// full (1040), shutting down, or blocking the proxy's host counts, besides
// failures to connect at all, so that one account's mistakes never open a
// backend's breaker for everyone.
func notABackendFailure(err error) bool {
	var se *wire.SQLError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case wire.ERConCountError, wire.ERServerShutdown, wire.ERHostIsBlocked:
		return false
	}
	return true
}

func (n *node) breakerChanged(_ string, from, to gobreaker.State) {
	n.log().Warn("backend circuit breaker changed", zap.String("from", from.String()), zap.String("to", to.String()),
		zap.String("last_error", n.lastError()))
}

func (n *node) log() *zap.Logger { return n.logger.Load() }

func (n *node) lastError() string {
	if e := n.lastErr.Load(); e != nil {
		return *e
	}
	return ""
}

// dial opens a session connection to the backend through its breaker: an
// open breaker fails at once, with the reason, instead of waiting on a
// server known to be down.
func (n *node) dial(replica bool, timeout time.Duration, cred credentials, opt loginOptions) (*backendConn, error) {
	if h := n.health.Load(); h != nil && !h.Reachable {
		// The monitor found it down moments ago: say so at once rather
		// than wait on a connect that may hang.
		return nil, &backendError{n.addr, fmt.Errorf("down according to the monitor (%s)", h.Error)}
	}
	done, err := n.breaker.Load().Allow()
	if err != nil {
		return nil, &backendError{n.addr, fmt.Errorf("circuit breaker open after repeated failures (last: %s)", n.lastError())}
	}
	b, err := dialBackend(n.addr, replica, timeout, cred, opt)
	done(err)
	if err != nil {
		msg := err.Error()
		n.lastErr.Store(&msg)
		return nil, err
	}
	b.node = n
	b.ident = &backendIdent{node: n, threadID: b.threadID}
	n.conns.Add(1)
	return b, nil
}

// usableReplica reports whether the backend may take reads, by its breaker
// and the monitor's last finding under the server's lag limit. A replica
// whose replication stopped has no known lag and takes no reads, except
// when the primary itself is down: then the replica cannot receive anything
// newer, and it is the freshest copy there is.
func (n *node) usableReplica(maxLag time.Duration, primary *node) bool {
	if n.breaker.Load().isOpen() {
		return false
	}
	if !n.settings.Load().monitor {
		return true
	}
	h := n.health.Load()
	if h == nil || !h.Reachable || !h.SQLRunning {
		return false
	}
	if !h.IORunning && (primary == nil || primary.down()) {
		return true
	}
	return h.IORunning && h.Lag != nil && *h.Lag <= maxLag
}

// down reports whether the backend is known to be unreachable.
func (n *node) down() bool {
	if n.breaker.Load().isOpen() {
		return true
	}
	h := n.health.Load()
	return h != nil && !h.Reachable
}

// latencyFloor is the monitor latency below which replicas count as equally
// fast: pings on a healthy network differ by noise, and choosing by noise
// would send all light traffic to one replica.
const latencyFloor = 10 * time.Millisecond

// cost is what choosing the backend for one more read costs: the work in
// flight there, weighed by how fast it answers the monitor (smoothed).
func (n *node) cost() float64 {
	latency := max(time.Duration(n.latency.Load()), latencyFloor)
	return float64(n.inFlight.Load()+1) * float64(latency)
}

// observeLatency folds a check's latency into the smoothed latency.
func (n *node) observeLatency(d time.Duration) {
	old := time.Duration(n.latency.Load())
	if old == 0 {
		n.latency.Store(int64(d))
		return
	}
	n.latency.Store(int64(old + (d-old)*3/10))
}

var _ caddy.Destructor = (*node)(nil)
