// Package adminjson serves read-only admin API routes that answer GET with
// a JSON document, the shape of every Frontdesk state route.
package adminjson

import (
	"encoding/json"
	"fmt"
	"net/http"

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
