package mysqlproxy

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// serverStats are a server's counters. They are kept per server name for
// the life of the process, so they carry on across config reloads.
type serverStats struct {
	sessionsOpen  atomic.Int64
	sessionsTotal atomic.Int64
	loginFailures atomic.Int64
	toPrimary     atomic.Int64
	toReplica     atomic.Int64
	errors        atomic.Int64
	closed        *kindCounts
	pins          *kindCounts
	// unauthenticated counts the open connections that have not logged in
	// yet; refused counts connections turned away before their greeting.
	unauthenticated atomic.Int64
	refused         *kindCounts
	// failures are the failed logins per client address, for the
	// login-failure limit.
	failures *failureTracker
}

// ServerStats is a snapshot of a server's counters, as the admin API shows.
type ServerStats struct {
	// SessionsOpen is the number of client sessions now open.
	SessionsOpen int64 `json:"sessions_open"`
	// SessionsTotal counts client sessions since the process started.
	SessionsTotal int64 `json:"sessions_total"`
	// SessionsClosed counts ended sessions by how they ended: client_quit,
	// client_left (the connection closed without COM_QUIT), idle_timeout,
	// write_timeout (the client stopped reading), server_stopped (a reload
	// or shutdown), login_failed, or error.
	SessionsClosed map[string]int64 `json:"sessions_closed"`
	// LoginFailures counts refused logins.
	LoginFailures int64 `json:"login_failures"`
	// StatementsPrimary counts commands run on the primary.
	StatementsPrimary int64 `json:"statements_primary"`
	// StatementsReplica counts commands run on a replica.
	StatementsReplica int64 `json:"statements_replica"`
	// Errors counts commands answered with an error, by a backend or the proxy.
	Errors int64 `json:"errors"`
	// SessionsPinned counts the times a session was bound to the primary
	// for the rest of its life, by why: statement (a temporary table,
	// GET_LOCK, LOCK TABLES, ...), untracked_state (the server reported
	// session state the proxy cannot replay: SELECT ... INTO @v, CALL,
	// EXECUTE, a prepared SET), session_log_full (the replay log or the
	// prepared statements passed their bounds), or no_session_tracking
	// (the primary does not report session state).
	SessionsPinned map[string]int64 `json:"sessions_pinned"`
	// Unauthenticated is the number of open connections that have not
	// logged in yet.
	Unauthenticated int64 `json:"unauthenticated"`
	// ConnectionsRefused counts connections turned away before their
	// greeting, by why: max_connections, max_unauthenticated, or
	// login_failures (the client's address is blocked by the login-failure
	// limit).
	ConnectionsRefused map[string]int64 `json:"connections_refused"`
}

var (
	statsMu     sync.Mutex
	statsByName = map[string]*serverStats{}
	// running are the started servers of each name, oldest first: the
	// newest is the running config's (a config that fails to start is
	// stopped, and the one before it is the newest again).
	running = map[string][]*Server{}
)

// BackendStatus is what the admin API shows of one backend.
type BackendStatus struct {
	// Address is the backend's address.
	Address string `json:"address"`
	// Role is "primary" or "replica": as configured, or as the monitor found.
	Role string `json:"role"`
	// Usable says whether the backend takes new work: for a replica, reads
	// under the lag limit; for the primary, not known to be down.
	Usable bool `json:"usable"`
	// Breaker is the state of the backend's circuit breaker.
	Breaker string `json:"breaker"`
	// OpenConnections counts the sessions' connections to it.
	OpenConnections int64 `json:"open_connections"`
	// InFlight counts commands running on it.
	InFlight int64 `json:"in_flight"`
	// Routed counts commands sent to it.
	Routed int64 `json:"routed"`
	// Health is the monitor's last finding, if the monitor is on.
	Health *healthState `json:"health,omitempty"`
	// LastError is the last failure to connect to it.
	LastError string `json:"last_error,omitempty"`
	// Pool is the state of its connection pool, when pooling is on.
	Pool *PoolStatus `json:"pool,omitempty"`

	breakerState gobreaker.State
}

// ServerStatus is what the admin API shows of one server.
type ServerStatus struct {
	ServerStats
	// Backends are the running config's backends, primary first (absent
	// while no writable server is found).
	Backends []BackendStatus `json:"backends,omitempty"`
	// MultiplexingRatio is, when the server pools, its open client
	// sessions per open connection of its backends' pools (pools are per
	// backend: servers sharing a backend share its connections).
	MultiplexingRatio *float64 `json:"multiplexing_ratio,omitempty"`
}

func setRunning(s *Server) {
	statsMu.Lock()
	running[s.name] = append(running[s.name], s)
	statsMu.Unlock()
}

func clearRunning(s *Server) {
	statsMu.Lock()
	kept := slices.DeleteFunc(running[s.name], func(r *Server) bool { return r == s })
	if len(kept) == 0 {
		delete(running, s.name)
	} else {
		running[s.name] = kept
	}
	statsMu.Unlock()
}

func (s *Server) backendStatus() []BackendStatus {
	maxLag := time.Duration(s.Health.MaxReplicationLag)
	var out []BackendStatus
	primary := s.primary()
	if primary != nil {
		out = append(out, primary.status("primary", !primary.down()))
	}
	for _, n := range s.replicas() {
		out = append(out, n.status("replica", n.usableReplica(maxLag, primary)))
	}
	return out
}

func (n *node) status(role string, usable bool) BackendStatus {
	breaker := n.breaker.Load().State()
	st := BackendStatus{
		Address: n.key, Role: role, Usable: usable, Breaker: breaker.String(), breakerState: breaker,
		OpenConnections: n.conns.Load(), InFlight: n.inFlight.Load(), Routed: n.routed.Load(),
		Health: n.health.Load(), LastError: n.lastError(),
	}
	if n.pool.inUse() {
		pool := n.pool.status()
		st.Pool = &pool
	}
	return st
}

// statsFor returns the counters of the server with the given name.
func statsFor(name string) *serverStats {
	statsMu.Lock()
	defer statsMu.Unlock()
	st := statsByName[name]
	if st == nil {
		st = &serverStats{closed: newKindCounts(closeKindNames), pins: newKindCounts(pinReasonNames),
			refused: newKindCounts(refusedReasonNames), failures: newFailureTracker()}
		statsByName[name] = st
	}
	return st
}

func (st *serverStats) snapshot() ServerStats {
	return ServerStats{
		SessionsOpen:      st.sessionsOpen.Load(),
		SessionsTotal:     st.sessionsTotal.Load(),
		SessionsClosed:    st.closed.snapshot(),
		LoginFailures:     st.loginFailures.Load(),
		StatementsPrimary: st.toPrimary.Load(),
		StatementsReplica: st.toReplica.Load(),
		Errors:            st.errors.Load(),
		SessionsPinned:    st.pins.snapshot(),

		Unauthenticated:    st.unauthenticated.Load(),
		ConnectionsRefused: st.refused.snapshot(),
	}
}

// allStatus returns every server's counters and, for the servers of the
// running config, their backends, by server name.
func allStatus() map[string]ServerStatus {
	statsMu.Lock()
	defer statsMu.Unlock()
	out := make(map[string]ServerStatus, len(statsByName))
	for name, st := range statsByName {
		status := ServerStatus{ServerStats: st.snapshot()}
		if started := running[name]; len(started) > 0 {
			status.Backends = started[len(started)-1].backendStatus()
			status.MultiplexingRatio = multiplexingRatio(status)
		}
		out[name] = status
	}
	return out
}

// multiplexingRatio is a pooling server's client sessions per pooled
// backend connection; nil without pooling or pooled connections.
func multiplexingRatio(st ServerStatus) *float64 {
	conns := 0
	for _, b := range st.Backends {
		if b.Pool != nil {
			conns += b.Pool.Open
		}
	}
	if conns == 0 {
		return nil
	}
	r := float64(st.SessionsOpen) / float64(conns)
	return &r
}

// kindCounts counts events of a fixed set of kinds (how sessions ended, why
// they were pinned), named as the admin API and the metrics label them.
type kindCounts struct {
	names []string
	n     []atomic.Int64
}

func newKindCounts(names []string) *kindCounts {
	return &kindCounts{names: names, n: make([]atomic.Int64, len(names))}
}

func (c *kindCounts) add(kind int) { c.n[kind].Add(1) }

// snapshot returns the counts by kind name.
func (c *kindCounts) snapshot() map[string]int64 {
	m := make(map[string]int64, len(c.names))
	for k, name := range c.names {
		m[name] = c.n[k].Load()
	}
	return m
}
