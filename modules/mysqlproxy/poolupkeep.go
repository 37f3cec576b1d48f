package mysqlproxy

// Keeping pooled connections fit: resets to the clean state of their key,
// reaping, min_idle, and pruning what no config pools any more.

import (
	"slices"
	"strings"
	"time"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

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
	var out []func()
	p.idle = slices.DeleteFunc(p.idle, func(b *backendConn) bool {
		cfg := b.poolCfg
		old := now.Sub(b.idleSince) >= time.Duration(cfg.IdleTimeout) || now.Sub(b.opened) >= time.Duration(cfg.MaxLifetime) ||
			now.Sub(b.idleSince) >= staleAfter && b.peerClosedOrTalked()
		if old {
			out = append(out, p.retire(b))
			p.wakeOne()
		}
		return old
	})
	p.mu.Unlock()
	for _, closeIt := range out {
		closeIt()
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
		p.reserve()
		p.mu.Unlock()
		b, err := n.dial(r.key.replica, r.timeout, r.cred, r.opt)
		if err != nil {
			p.forgetOne()
			return
		}
		b.join(p, &r)
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
	var out []func()
	p.idle = slices.DeleteFunc(p.idle, func(b *backendConn) bool {
		if keep(b.key.user) {
			return false
		}
		out = append(out, p.retire(b))
		return true
	})
	if p.recent.cfg != nil && !keep(p.recent.key.user) {
		p.recent = poolRecipe{}
	}
	p.mu.Unlock()
	for _, closeIt := range out {
		closeIt()
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
