// Package adminjson serves read-only admin API routes that answer GET with
// a JSON document, the shape of every Frontdesk state route, and keeps the
// process-wide registry of the state functions behind them, which the
// dashboard reads without importing the modules.
package adminjson

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2"
)

// Route is a GET-only admin route at pattern whose answer is state()
// encoded as JSON; other methods get 405.
func Route(pattern string, state func() any) caddy.AdminRoute {
	return caddy.AdminRoute{
		Pattern: pattern,
		Handler: caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if r.Method != http.MethodGet {
				return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: %s is read-only", r.Method, pattern)}
			}
			w.Header().Set("Content-Type", "application/json")
			if err := json.NewEncoder(w).Encode(state()); err != nil {
				return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
			}
			return nil
		}),
	}
}

var (
	statesMu sync.RWMutex
	states   = map[string]func() any{}
)

// Register names a module's state function: the one its admin route
// serves, answering from package-level state (an empty list or map when
// the module is not configured). Modules call it once, from init; a second
// registration of a name is a programming error and panics, as
// caddy.RegisterModule does.
func Register(name string, state func() any) {
	statesMu.Lock()
	defer statesMu.Unlock()
	if _, dup := states[name]; dup {
		panic("adminjson: state " + name + " registered twice")
	}
	states[name] = state
}

// States calls every registered state function and returns the answers by
// name.
func States() map[string]any {
	statesMu.RLock()
	fns := make(map[string]func() any, len(states))
	for name, f := range states {
		fns[name] = f
	}
	statesMu.RUnlock()
	out := make(map[string]any, len(fns))
	for name, f := range fns {
		out[name] = f()
	}
	return out
}
