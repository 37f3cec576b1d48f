package mysqlproxy

import "sync"

// committed holds what each started config committed to a piece of state
// that outlives configs (a shared listener, a node's settings), oldest
// first; the newest is in force. A config withdraws its value when it
// stops, so that when Caddy stops a config that failed to start (another
// app refused it), the running config's value is in force again, exactly
// as before; after a reload, the new config's value stays.
type committed[T any] struct {
	mu      sync.Mutex
	entries []committedEntry[T]
	// apply puts a value in force; it runs under mu, so values are put in
	// force in the order they are committed and withdrawn.
	apply func(T)
}

type committedEntry[T any] struct {
	owner *Server
	value T
}

// commit records owner's value and puts it in force.
func (c *committed[T]) commit(owner *Server, value T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = append(c.entries, committedEntry[T]{owner, value})
	c.apply(value)
}

// withdraw removes owner's value. If it was in force, the newest value
// left is put in force, or the zero value when none is left.
func (c *committed[T]) withdraw(owner *Server) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	wasInForce := n > 0 && c.entries[n-1].owner == owner
	kept := c.entries[:0]
	for _, e := range c.entries {
		if e.owner != owner {
			kept = append(kept, e)
		}
	}
	clear(c.entries[len(kept):])
	c.entries = kept
	if !wasInForce {
		return
	}
	var value T
	if len(kept) > 0 {
		value = kept[len(kept)-1].value
	}
	c.apply(value)
}
