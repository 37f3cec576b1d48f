package mysqlproxy

// Borrowing pooled connections and giving them back: between commands
// (park and reclaim, multiplexing) and when a session ends (release).

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// acquire gives session s a logged-in connection to the backend, with its
// server's pool settings: from the backend's pool if it has an idle one of
// the session's key in the clean state of that key (given back by a session
// that ended, or parked between statements by one that changed nothing),
// else a new one while the pool has room, else an idle one that another
// session left with its state (reset first), else one that comes free
// within the wait. Without pooling, a new one. The session owns what it
// gets (the caller adopts it; reclaim is the cheaper way back to a
// connection the session parked).
func (n *node) acquire(s *session, replica bool, opt loginOptions) (*backendConn, error) {
	cfg := s.srv.Pool
	if cfg == nil {
		return n.dial(replica, time.Duration(s.srv.ConnectTimeout), s.credentials(), opt)
	}
	n.pool.used.Store(true)
	recipe := poolRecipe{key: poolKey{user: s.user.name, db: opt.db, charset: opt.charset, caps: opt.caps, replica: replica},
		cred: s.credentials(), opt: opt, cfg: cfg, timeout: time.Duration(s.srv.ConnectTimeout)}
	key := recipe.key
	p := &n.pool
	deadline := time.Now().Add(time.Duration(cfg.WaitTimeout))
	for {
		p.mu.Lock()
		p.recent = recipe
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
			p.reserve()
			p.mu.Unlock()
			b, err := n.dialForPool(s, replica, opt)
			if err != nil {
				p.forgetOne()
				return nil, err
			}
			b.join(p, &recipe)
			b.owner = s
			return b, nil
		}
		if len(p.idle) > 0 {
			// Full, with idle connections of other keys only: close the
			// least recently used one to make room.
			closeVictim := p.retire(p.idle[0])
			p.idle = p.idle[1:]
			p.mu.Unlock()
			closeVictim()
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
			go p.retire(b)()
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

// reserve counts a connection about to be opened for the pool as open and
// in use. Called with p.mu held.
func (p *connPool) reserve() {
	p.open++
	p.busy++
	p.creates++
}

// join makes a connection opened for the pool (reserved) one of its held
// connections, serving the recipe's key under its settings.
func (b *backendConn) join(p *connPool, r *poolRecipe) {
	b.pool, b.held, b.key, b.opened, b.poolCfg = p, true, r.key, time.Now(), r.cfg
}

// retire takes an idle connection out of the pool for good (past its
// lifetime or idle timeout, closed by the server, evicted, pruned). It is
// called with p.mu held; the function it returns, run without it, hands
// the session that parked the connection the LAST_INSERT_ID() it holds,
// as any taker does, and closes it.
func (p *connPool) retire(b *backendConn) func() {
	handoff := b.takeInsertID(nil)
	b.owner = nil
	p.open--
	return func() {
		handoff.read(b)
		b.close()
	}
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
