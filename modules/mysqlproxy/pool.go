package mysqlproxy

// Pool settings and the per-backend pool of connections; borrowing and
// giving back are in poolborrow.go, resets and upkeep in poolupkeep.go, the
// LAST_INSERT_ID() handover in poolinsertid.go.

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// Pool shares backend connections between client sessions. An application
// that connects for every request (PHP-FPM, serverless functions, short
// scripts) pays no backend login, and many mostly idle clients hold few
// server connections: a session holds a connection only while a statement,
// a transaction, or state that cannot be replayed (temporary tables,
// locks, a cursor) needs it, and parks it in the pool between commands
// (multiplexing). A session takes back the connection it parked unless
// another took it; any other connection is given the session's state first
// (the session log replayed, sql_mode set), after a COM_RESET_CONNECTION if
// another session left its state on it. Connections go to sessions with
// the same user, login database, character set and client capabilities.
// Pools belong to the backends and outlive config reloads.
type Pool struct {
	// MaxConnections bounds the connections the proxy holds open to each
	// backend server, in use and idle, for every user together. A session
	// that needs one more waits for one to come free, for at most
	// WaitTimeout, then gets error 1040. Default: 100.
	MaxConnections int `json:"max_connections,omitempty"`

	// MaxIdle bounds the idle connections kept per backend server; a
	// connection given back past it is closed. Default: MaxConnections.
	MaxIdle int `json:"max_idle,omitempty"`

	// MinIdle is the number of idle connections kept ready per backend
	// server, opened ahead of need at each health check interval for the
	// user, database and character set that sessions used last, so that a
	// burst of new sessions finds them logged in. Default: 0.
	MinIdle int `json:"min_idle,omitempty"`

	// IdleTimeout closes a connection that sat idle in the pool this long.
	// Keep it below the servers' wait_timeout. Default: 5m.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`

	// MaxLifetime closes a connection this long after it was opened, when
	// it is next idle. Default: 1h.
	MaxLifetime caddy.Duration `json:"max_lifetime,omitempty"`

	// WaitTimeout bounds how long a session waits for a connection when
	// the pool is at MaxConnections. Default: 2s.
	WaitTimeout caddy.Duration `json:"wait_timeout,omitempty"`

	// MaxWaiting bounds the sessions waiting for a connection per backend
	// server; past it a session gets error 1040 at once. Default: 1024.
	MaxWaiting int `json:"max_waiting,omitempty"`
}

// Defaults of the pool settings.
const (
	defaultPoolMaxConnections = 100
	defaultPoolIdleTimeout    = 5 * time.Minute
	defaultPoolMaxLifetime    = time.Hour
	defaultPoolWaitTimeout    = 2 * time.Second
	defaultPoolMaxWaiting     = 1024
)

// provision fills in the defaults and checks the settings.
func (p *Pool) provision() error {
	switch {
	case p.MaxConnections < 0 || p.MaxIdle < 0 || p.MinIdle < 0 || p.MaxWaiting < 0:
		return fmt.Errorf("pool: max_connections, max_idle, min_idle and max_waiting must not be negative")
	case p.IdleTimeout < 0 || p.MaxLifetime < 0 || p.WaitTimeout < 0:
		return fmt.Errorf("pool: durations must not be negative")
	}
	if p.MaxConnections == 0 {
		p.MaxConnections = defaultPoolMaxConnections
	}
	if p.MaxIdle == 0 || p.MaxIdle > p.MaxConnections {
		p.MaxIdle = p.MaxConnections
	}
	if p.MinIdle > p.MaxIdle {
		return fmt.Errorf("pool: min_idle %d is more than max_idle %d", p.MinIdle, p.MaxIdle)
	}
	if p.IdleTimeout == 0 {
		p.IdleTimeout = caddy.Duration(defaultPoolIdleTimeout)
	}
	if p.MaxLifetime == 0 {
		p.MaxLifetime = caddy.Duration(defaultPoolMaxLifetime)
	}
	if p.WaitTimeout == 0 {
		p.WaitTimeout = caddy.Duration(defaultPoolWaitTimeout)
	}
	if p.MaxWaiting == 0 {
		p.MaxWaiting = defaultPoolMaxWaiting
	}
	return nil
}

// poolKey is what makes two backend connections interchangeable for a new
// session: the account, the login database and character set (where a
// reset connection stands), the negotiated capabilities (the packets'
// layout), and the role it was opened for.
type poolKey struct {
	user    string
	db      string
	charset uint8
	caps    uint64
	replica bool
}

// connPool is one backend's pool: its idle connections, most recently
// given back last, and the count of its open ones.
type connPool struct {
	// used is set once a server with pooling has used the backend: the
	// pool shows in the admin API, and the monitor reads the server's
	// session defaults.
	used atomic.Bool

	mu   sync.Mutex
	idle []*backendConn
	// open counts the connections opened through the pool and not closed,
	// idle or in use; busy, those in use.
	open, busy int
	waiters    []chan struct{}

	borrows, creates, timeouts int64
	resets                     atomic.Int64
	// recent is how the last session that took a connection would have
	// opened one, which min_idle opens more of.
	recent poolRecipe
}

// poolRecipe is how to open one more connection like a session's (none
// while cfg is nil).
type poolRecipe struct {
	key     poolKey
	cred    credentials
	opt     loginOptions
	cfg     *Pool
	timeout time.Duration
}

// PoolStatus is what the admin API shows of a backend's pool.
type PoolStatus struct {
	// Open is the pool's connections, idle or in use.
	Open int `json:"open"`
	// Idle are the connections waiting in the pool.
	Idle int `json:"idle"`
	// InUse are the connections sessions hold.
	InUse int `json:"in_use"`
	// Waiting is the number of sessions waiting for a connection.
	Waiting int `json:"waiting"`
	// Borrows counts the connections sessions took from the pool idle;
	// Creates, the connections opened; Resets, the connections reset and
	// given back; Timeouts, the sessions that waited in vain.
	Borrows  int64 `json:"borrows"`
	Creates  int64 `json:"creates"`
	Resets   int64 `json:"resets"`
	Timeouts int64 `json:"timeouts"`
}

// inUse reports whether a server with pooling has used the backend.
func (p *connPool) inUse() bool { return p.used.Load() }

func (p *connPool) status() PoolStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStatus{Open: p.open, Idle: len(p.idle), InUse: p.busy, Waiting: len(p.waiters),
		Borrows: p.borrows, Creates: p.creates, Resets: p.resets.Load(), Timeouts: p.timeouts}
}

// errPoolExhausted answers a session that found no connection to take.
func errPoolExhausted(n *node, cfg *Pool, waited bool) error {
	how := "and too many sessions wait already (pool max_waiting)"
	if waited {
		how = fmt.Sprintf("and none came free within %s (pool wait_timeout)", time.Duration(cfg.WaitTimeout))
	}
	return wire.NewSQLError(wire.ERConCountError, "Too many connections: Frontdesk holds its %d connections to backend %s (pool max_connections) %s",
		cfg.MaxConnections, n.addr, how)
}
