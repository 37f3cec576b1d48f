package reloadsafe

import (
	"net"
	"slices"
	"sync"

	"github.com/caddyserver/caddy/v2"
)

// addresses holds, per listen address, the open listeners of every config
// generation; a reload acquires the address (new listener) before it
// releases it (old listener), so the entry lives as long as the address is
// served.
var addresses = caddy.NewUsagePool()

// address is the meeting point of the generations of one listen address.
type address struct {
	mu   sync.Mutex
	live []*listener // open listeners, oldest first
}

// Destruct implements caddy.Destructor; an address owns nothing to free.
func (*address) Destruct() error { return nil }

// acquireAddress returns the address of key, counting one more user.
func acquireAddress(key string) *address {
	v, _, _ := addresses.LoadOrNew(key, func() (caddy.Destructor, error) { return new(address), nil })
	return v.(*address)
}

// releaseAddress counts one user of key less.
func releaseAddress(key string) { _, _ = addresses.Delete(key) }

func (a *address) add(l *listener) {
	a.mu.Lock()
	a.live = append(a.live, l)
	a.mu.Unlock()
}

func (a *address) remove(l *listener) {
	a.mu.Lock()
	a.live = slices.DeleteFunc(a.live, func(x *listener) bool { return x == l })
	a.mu.Unlock()
}

// served reports whether any listener serves the address.
func (a *address) served() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.live) > 0
}

// replaced reports whether a listener newer than l serves the address: a
// reload has started l's generation, which shuts down next.
func (a *address) replaced(l *listener) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.Index(a.live, l)
	return i >= 0 && i < len(a.live)-1
}

// pass queues the connection below, with the bytes read ahead on it, on
// the newest open listener of the address other than from; with none left
// (the address is no longer served) it closes the connection.
func (a *address) pass(below net.Conn, prefix []byte, from *listener) {
	for {
		a.mu.Lock()
		var to *listener
		for i := len(a.live) - 1; i >= 0; i-- {
			if a.live[i] != from {
				to = a.live[i]
				break
			}
		}
		a.mu.Unlock()
		if to == nil {
			below.Close()
			return
		}
		// A listener that refuses has closed, and has left a.live.
		if to.enqueue(below, prefix) {
			handoffs.Inc()
			return
		}
	}
}
