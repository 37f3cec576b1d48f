package mysqlproxy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

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

// acquire gives session s a logged-in connection to the backend, with its
// server's pool settings: from the backend's pool if it has an idle one of
// the session's key in the clean state of that key (given back by a session
// that ended, or parked between statements by one that changed nothing),
// else a new one while the pool has room, else an idle one that another
// session left with its state (reset first), else one that comes free
// within the wait. Without pooling, a new one. The session owns what it
// gets; adopt says whether it owned it before (reclaim is the cheaper way
// back to a connection the session parked).
func (n *node) acquire(s *session, replica bool, opt loginOptions) (*backendConn, error) {
	cfg := s.srv.Pool
	if cfg == nil {
		b, err := n.dial(replica, time.Duration(s.srv.ConnectTimeout), s.credentials(), opt)
		if err == nil {
			b.owner = s
		}
		return b, err
	}
	n.pool.used.Store(true)
	key := poolKey{user: s.user.name, db: opt.db, charset: opt.charset, caps: opt.caps, replica: replica}
	p := &n.pool
	deadline := time.Now().Add(time.Duration(cfg.WaitTimeout))
	for {
		p.mu.Lock()
		p.recent = poolRecipe{key: key, cred: s.credentials(), opt: opt, cfg: cfg, timeout: time.Duration(s.srv.ConnectTimeout)}
		b := p.take(key, cfg, time.Now(), p.open >= cfg.MaxConnections)
		if b != nil {
			handoff := b.takeInsertID(s)
			b.owner, b.held = s, true
			p.busy++
			p.borrows++
			p.mu.Unlock()
			if b.peerClosedOrTalked() {
				// The server ended it while it sat in the pool (a restart,
				// wait_timeout, KILL): take another. (One look at the
				// socket per connection that changes hands; a session
				// taking back its own looks only after idleness.)
				handoff.lost(errors.New("the server closed the connection"))
				b.drop()
				continue
			}
			handoff.read(b)
			if !b.clean || b.defaults != n.sessionDefaults() {
				// Another session's state is on it, or the server's
				// defaults changed (SET GLOBAL) since it was reset: a new
				// connection would start clean, with the new defaults.
				if !b.resetForPool() {
					b.drop()
					continue
				}
			}
			return b, nil
		}
		if p.open < cfg.MaxConnections {
			p.open++
			p.busy++
			p.creates++
			p.mu.Unlock()
			b, err := n.dialForPool(s, replica, opt)
			if err != nil {
				n.pool.forgetOne()
				return nil, err
			}
			b.pool, b.held, b.key, b.opened, b.poolCfg, b.owner = p, true, key, time.Now(), cfg, s
			return b, nil
		}
		if len(p.idle) > 0 {
			// Full, with idle connections of other keys only: close the
			// least recently used one to make room.
			victim := p.idle[0]
			p.idle = p.idle[1:]
			victim.owner = nil
			p.open--
			p.mu.Unlock()
			victim.close()
			continue
		}
		if len(p.waiters) >= cfg.MaxWaiting {
			p.timeouts++
			p.mu.Unlock()
			return nil, errPoolExhausted(n, cfg, false)
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			p.timeouts++
			p.mu.Unlock()
			return nil, errPoolExhausted(n, cfg, true)
		}
		ch := make(chan struct{}, 1)
		p.waiters = append(p.waiters, ch)
		p.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-ch:
			timer.Stop()
		case <-timer.C:
			p.mu.Lock()
			p.waiters = slices.DeleteFunc(p.waiters, func(c chan struct{}) bool { return c == ch })
			p.mu.Unlock()
		}
	}
}

// dialForPool opens a connection for the pool and learns what its clean
// state needs known: the defaults it starts under and, on a replica, its
// sql_mode (the primary's is learnt with its session tracking).
func (n *node) dialForPool(s *session, replica bool, opt loginOptions) (*backendConn, error) {
	defaults := n.sessionDefaults()
	b, err := n.dial(replica, time.Duration(s.srv.ConnectTimeout), s.credentials(), opt)
	if err != nil {
		return nil, err
	}
	b.defaults = defaults
	if replica {
		mode, err := b.queryValue("SELECT @@session.sql_mode")
		if err != nil {
			b.drop()
			return nil, &backendError{b.addr, fmt.Errorf("reading sql_mode: %w", err)}
		}
		b.mode, b.clean = newSQLMode(mode), true
	}
	return b, nil
}

// take removes and returns an idle connection of key: one in the clean
// state of its key that no session owns (the most recently given back),
// else a clean one another session parked (the longest parked), else, with
// dirty, one that a session left its state on (the longest parked).
// Connections past their lifetime are closed on the way. Called with p.mu
// held.
func (p *connPool) take(key poolKey, cfg *Pool, now time.Time, dirty bool) *backendConn {
	// From the most recently given back: the first clean one nobody owns
	// ends the search; otherwise the last seen of the other kinds is the
	// longest parked.
	best, bestRank := -1, 0
	for i := len(p.idle) - 1; i >= 0; i-- {
		b := p.idle[i]
		if b.key != key {
			continue
		}
		if now.Sub(b.opened) >= time.Duration(cfg.MaxLifetime) {
			p.idle = slices.Delete(p.idle, i, i+1)
			if best > i {
				best--
			}
			b.owner = nil
			p.open--
			go b.close()
			continue
		}
		rank := 0
		switch {
		case b.clean && b.owner == nil:
			best, bestRank = i, 3
		case b.clean:
			rank = 2
		case dirty:
			rank = 1
		}
		if bestRank == 3 {
			break
		}
		if rank >= bestRank && rank > 0 {
			best, bestRank = i, rank
		}
	}
	if best < 0 {
		return nil
	}
	b := p.idle[best]
	p.idle = slices.Delete(p.idle, best, best+1)
	return b
}

// forgetOne counts a pooled connection that a session held closed (or
// never opened), and lets a waiting session try again.
func (p *connPool) forgetOne() {
	p.mu.Lock()
	p.open--
	p.busy--
	p.wakeOne()
	p.mu.Unlock()
}

// wakeOne tells the longest-waiting session to try again. Called with p.mu
// held.
func (p *connPool) wakeOne() {
	if len(p.waiters) > 0 {
		p.waiters[0] <- struct{}{}
		p.waiters = p.waiters[1:]
	}
}

// park puts a connection its session does not need between statements
// into the pool, still owned by the session: the session takes it back
// with reclaim unless another session took it meanwhile.
func (b *backendConn) park() {
	b.putIdle(b.owner)
}

// release takes back a connection whose session has ended: pooled, it is
// reset to the clean state of its key if the session left anything on it,
// and kept idle (or closed if the reset fails or the pool has enough idle);
// else it is closed.
func (b *backendConn) release() {
	if b.pool == nil {
		b.close()
		return
	}
	if !b.clean || b.inTransaction() {
		if !b.resetForPool() {
			b.close() // counted out of the pool by drop
			return
		}
	}
	b.putIdle(nil)
}

// putIdle makes a held pooled connection idle, owned by owner, or closes it
// if the pool has enough idle connections.
func (b *backendConn) putIdle(owner *session) {
	p := b.pool
	p.mu.Lock()
	if len(p.idle) >= b.poolCfg.MaxIdle {
		p.mu.Unlock()
		b.close()
		return
	}
	p.busy--
	b.held, b.owner, b.idleSince = false, owner, time.Now()
	p.idle = append(p.idle, b)
	p.wakeOne()
	p.mu.Unlock()
}

// reclaim takes back from the pool a connection session s parked, unless
// another session took it since (or it was closed). It reports whether s
// holds b now.
func (b *backendConn) reclaim(s *session) bool {
	p := b.pool
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.owner != s || b.held {
		return false
	}
	// Parked moments ago, most likely: look from the most recent end.
	i := len(p.idle) - 1
	for i >= 0 && p.idle[i] != b {
		i--
	}
	if i < 0 {
		return false
	}
	p.idle = slices.Delete(p.idle, i, i+1)
	b.held = true
	p.busy++
	return true
}

// resetForPool brings a connection back to the clean state of its key:
// COM_RESET_CONNECTION, session tracking turned on again on a primary
// connection, then one query for its database (which the reset keeps, and
// which a session may have left) and its sql_mode, so that the next session
// starts with no round trip; the key's database is restored if another is
// left. It reports whether the connection is clean.
func (b *backendConn) resetForPool() bool {
	if b.closedByServer() {
		return false
	}
	b.tracked = nil
	// The defaults it is reset under: read before the reset, so that a
	// change the monitor has not seen yet makes it look stale, never fresh.
	b.defaults = b.node.sessionDefaults()
	if b.run([]byte{wire.ComResetConnection}) != nil {
		return false
	}
	if !b.replica && b.caps&wire.ClientSessionTrack != 0 {
		if b.run(trackingSetup) != nil {
			return false
		}
	}
	// A NUL cannot be part of a database name.
	state, err := b.queryValue("SELECT CONCAT(IFNULL(DATABASE(), ''), CHAR(0), @@session.sql_mode)")
	db, mode, ok := strings.Cut(state, "\x00")
	if err != nil || !ok {
		return false
	}
	if db != b.key.db {
		if b.key.db == "" {
			// No command takes a connection back to no database.
			return false
		}
		if b.run(append([]byte{wire.ComInitDB}, b.key.db...)) != nil {
			return false
		}
	}
	b.mode = newSQLMode(mode)
	b.replayed, b.status, b.clean, b.resultsOf, b.insertOf = 0, wire.StatusAutocommit, true, nil, nil
	b.pool.resets.Add(1)
	return true
}

// sessionDefaults is the digest of the server's session defaults as the
// monitor last read it ("" when unknown).
func (n *node) sessionDefaults() string {
	if h := n.health.Load(); h != nil {
		return h.SessionDefaults
	}
	return ""
}

// reap closes idle connections past the idle timeout or lifetime of the
// pool settings they were opened under, and those the server closed (one
// non-blocking look at each socket idle for staleAfter or longer).
func (p *connPool) reap(now time.Time) {
	p.mu.Lock()
	var out []*backendConn
	p.idle = slices.DeleteFunc(p.idle, func(b *backendConn) bool {
		cfg := b.poolCfg
		old := now.Sub(b.idleSince) >= time.Duration(cfg.IdleTimeout) || now.Sub(b.opened) >= time.Duration(cfg.MaxLifetime) ||
			now.Sub(b.idleSince) >= staleAfter && b.peerClosedOrTalked()
		if old {
			out = append(out, b)
			b.owner = nil
			p.open--
		}
		return old
	})
	for range out {
		p.wakeOne()
	}
	p.mu.Unlock()
	for _, b := range out {
		b.close()
	}
}

// fill opens connections ahead of need while the pool has fewer idle ones
// than the min_idle of the sessions that used it last, for their key.
func (n *node) fill() {
	p := &n.pool
	for {
		p.mu.Lock()
		r := p.recent
		if r.cfg == nil || r.cfg.MinIdle == 0 || p.open >= r.cfg.MaxConnections || n.down() {
			p.mu.Unlock()
			return
		}
		idle := 0
		for _, b := range p.idle {
			if b.key == r.key && b.clean && b.owner == nil {
				idle++
			}
		}
		if idle >= r.cfg.MinIdle {
			p.mu.Unlock()
			return
		}
		p.open++
		p.busy++
		p.creates++
		p.mu.Unlock()
		b, err := n.dial(r.key.replica, r.timeout, r.cred, r.opt)
		if err != nil {
			p.forgetOne()
			return
		}
		b.pool, b.held, b.key, b.opened, b.poolCfg = p, true, r.key, time.Now(), r.cfg
		// A reset brings it to the clean state of its key, as if a
		// session had given it back.
		if !b.resetForPool() {
			b.drop()
			return
		}
		b.putIdle(nil)
	}
}

// prune closes the idle connections of users that keep says no config
// pools for any more.
func (p *connPool) prune(keep func(user string) bool) {
	p.mu.Lock()
	var out []*backendConn
	p.idle = slices.DeleteFunc(p.idle, func(b *backendConn) bool {
		if keep(b.key.user) {
			return false
		}
		out = append(out, b)
		b.owner = nil
		p.open--
		return true
	})
	if p.recent.cfg != nil && !keep(p.recent.key.user) {
		p.recent = poolRecipe{}
	}
	p.mu.Unlock()
	for _, b := range out {
		b.close()
	}
}

// prunePools closes the pooled idle connections that the servers of a
// config that starts no longer pool: of users it no longer has, or on
// servers that no longer pool; and puts the config's pool settings in
// force for min_idle. Connections of the previous config's sessions still
// running go when those sessions end.
func prunePools(servers []*Server) {
	pooled := map[*node]map[string]bool{}
	for _, s := range servers {
		for _, n := range s.nodes {
			if pooled[n] == nil {
				pooled[n] = map[string]bool{}
			}
			if s.Pool == nil {
				continue
			}
			for name := range s.users {
				pooled[n][name] = true
			}
			// min_idle follows the new settings at once.
			n.pool.mu.Lock()
			if r := &n.pool.recent; r.cfg != nil && s.users[r.key.user] != nil {
				r.cfg = s.Pool
			}
			n.pool.mu.Unlock()
		}
	}
	for n, users := range pooled {
		n.pool.prune(func(user string) bool { return users[user] })
	}
}

// insertHandoff brings a session the LAST_INSERT_ID() of a pooled
// connection that another session took from it: the taker reads it before
// the reset, and the session sets it on the connection it gets next.
type insertHandoff struct {
	done  chan struct{}
	value string
	err   error
}

// takeInsertID starts a handoff when session s takes b while b holds
// another session's LAST_INSERT_ID(); nil otherwise. Called with the
// pool's mu held, so that the other session, which looks for its handoff
// after failing to reclaim b under the same lock, always finds it.
func (b *backendConn) takeInsertID(s *session) *insertHandoff {
	o := b.insertOf
	if o == nil || o == s {
		return nil
	}
	h := &insertHandoff{done: make(chan struct{})}
	o.lostInsertID.Store(h)
	b.insertOf = nil
	return h
}

// lost ends the handoff without a value.
func (h *insertHandoff) lost(err error) {
	if h != nil {
		h.err = err
		close(h.done)
	}
}

// read reads the LAST_INSERT_ID() that b holds for the handoff.
func (h *insertHandoff) read(b *backendConn) {
	if h == nil {
		return
	}
	defer close(h.done)
	h.value, h.err = b.queryValue("SELECT LAST_INSERT_ID()")
	if h.err == nil {
		if _, err := strconv.ParseUint(h.value, 10, 64); err != nil {
			h.err = fmt.Errorf("LAST_INSERT_ID() read %q", h.value)
		}
	}
}

// restoreInsertID gives primary connection b, which the session just got,
// the LAST_INSERT_ID() that another session took away with the session's
// previous connection.
func (s *session) restoreInsertID(b *backendConn) error {
	h := s.lostInsertID.Swap(nil)
	if h == nil {
		return nil
	}
	<-h.done
	if h.err != nil {
		s.logger.Warn("LAST_INSERT_ID() was lost with a pooled connection that another session took", zap.Error(h.err))
		return nil
	}
	if h.value == "0" {
		return nil
	}
	b.clean, b.insertOf = false, s
	return b.run(fmt.Appendf([]byte{wire.ComQuery}, "SET @@session.last_insert_id = %s", h.value))
}
