// Package mysqlproxy is Frontdesk's `mysql` app: a MySQL-protocol proxy that
// sends writes, and anything it cannot prove harmless, to the primary and
// side-effect-free reads to replicas, keeping each client session's state
// consistent on every backend it uses.
//
// Each client session gets at most one primary connection and one replica
// connection, opened when first needed. Packets are relayed, not rebuilt:
// results stream from the backend to the client through buffered IO, so a
// result set of any size passes in bounded memory.
package mysqlproxy

import (
	"fmt"
	"sort"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `mysql` app: one or more MySQL proxy servers, each with its own
// listeners, cluster, users and routing. In the Caddyfile it is the `mysql`
// global option.
type App struct {
	// Servers by name. The name appears in logs, metrics and the admin API.
	Servers map[string]*Server `json:"servers,omitempty"`

	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "mysql",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision sets up every server.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if err := registerMetrics(ctx); err != nil {
		return fmt.Errorf("registering metrics: %v", err)
	}
	for _, name := range a.names() {
		if err := a.Servers[name].provision(ctx, name); err != nil {
			return fmt.Errorf("server %q: %v", name, err)
		}
	}
	return a.checkHTTPClash(ctx)
}

// Validate checks the servers' configs, and that no two servers share a
// listener address.
func (a *App) Validate() error {
	if len(a.Servers) == 0 {
		return fmt.Errorf("no servers configured")
	}
	owner := map[string]string{}
	for _, name := range a.names() {
		s := a.Servers[name]
		if err := s.validate(); err != nil {
			return fmt.Errorf("server %q: %v", name, err)
		}
		for _, addr := range s.listenKeys {
			if other, dup := owner[addr]; dup {
				return fmt.Errorf("servers %q and %q both listen on %s", other, name, addr)
			}
			owner[addr] = name
		}
	}
	return nil
}

// Start starts every server's listeners. A listener address that the
// previous config also served keeps its socket: the new servers take over
// the accept loop, so no connection attempt is refused across a reload.
func (a *App) Start() error {
	var started []*Server
	for _, name := range a.names() {
		s := a.Servers[name]
		if err := s.start(); err != nil {
			for _, st := range started {
				st.stop()
			}
			return fmt.Errorf("server %q: %v", name, err)
		}
		started = append(started, s)
	}
	prunePools(started)
	return nil
}

// Stop stops accepting sessions for this config. It returns at once: the
// sessions of this config end in the background.
func (a *App) Stop() error {
	for _, s := range a.Servers {
		s.stop()
	}
	return nil
}

// Cleanup releases what the servers held of the shared backend state; a
// backend that the next config keeps stays as it is.
func (a *App) Cleanup() error {
	for _, s := range a.Servers {
		s.cleanup()
	}
	return nil
}

// names returns the server names in a stable order.
func (a *App) names() []string {
	names := make([]string, 0, len(a.Servers))
	for n := range a.Servers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
