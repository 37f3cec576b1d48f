package reloadsafe

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func init() {
	caddy.RegisterModule(Wrapper{})
}

// wrapperName is the wrapper's name in a server's listener_wrappers.
const wrapperName = "reload_safe"

// defaultDrainTimeout bounds how long a replaced config keeps connections.
const defaultDrainTimeout = 5 * time.Minute

// Wrapper makes config reloads lose nothing on HTTP/1.1 keep-alive
// connections: when the replaced config's server would close a connection
// that waits for its next request, the connection is handed to the new
// config's server, which serves that next request by the new config.
// Requests in flight finish on the old config (with "Connection: close"),
// HTTP/2 connections get a GOAWAY and finish their streams, and WebSockets
// and streaming responses go on until drain_timeout after the reload.
//
// It needs no options: `"listener_wrappers": [{"wrapper": "reload_safe"}]`.
// It works on plain HTTP and after TLS (its default place); listed before
// the `tls` wrapper it cannot hand connections off, and only drains them.
type Wrapper struct {
	// How long connections of a replaced config may stay open after a
	// reload: requests in flight, streaming responses and WebSockets
	// (which reverse_proxy keeps only with `stream_close_delay`; set it
	// below this). Whatever is still open then is closed; a WebSocket
	// first gets a close frame with status 1001 (going away), between two
	// of the server's frames. Default: 5m.
	DrainTimeout caddy.Duration `json:"drain_timeout,omitempty"`

	gen    *generation
	app    *caddyhttp.App
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Wrapper) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.listeners." + wrapperName,
		New: func() caddy.Module { return new(Wrapper) },
	}
}

// Provision sets defaults and hooks the servers of the http app that list
// the wrapper, so their connections know when they wait between requests.
func (w *Wrapper) Provision(ctx caddy.Context) error {
	w.logger = ctx.Logger()
	if w.DrainTimeout == 0 {
		w.DrainTimeout = caddy.Duration(defaultDrainTimeout)
	}
	w.app = hookServers(ctx)
	if w.app == nil {
		w.logger.Warn("not used by the http app: connections are drained on reload but never handed off")
	}
	w.gen = newGeneration(time.Duration(w.DrainTimeout))
	return registerMetrics(ctx)
}

// Validate checks the drain timeout.
func (w *Wrapper) Validate() error {
	if w.DrainTimeout < 0 {
		return fmt.Errorf("drain_timeout must not be negative, got %s", time.Duration(w.DrainTimeout))
	}
	return nil
}

// WrapListener joins ln to the other generations of its address, sharing
// the address's first socket with them where the system allows it.
func (w *Wrapper) WrapListener(ln net.Listener) net.Listener {
	// The type of ln tells TLS from plain connections, so a connection is
	// only handed to a listener that serves the same kind.
	key := fmt.Sprintf("%s/%s|%T", ln.Addr().Network(), ln.Addr(), ln)
	shared, err := shareSocket(ln)
	if err == nil {
		ln = shared
	} else if c := w.logger.Check(logLevel(err), "socket not shared across configs: closing a replaced config's socket can reset connections queued on it"); c != nil {
		c.Write(zap.String("address", ln.Addr().String()), zap.Error(err))
	}
	addr := acquireAddress(key)
	l := newListener(ln, key, addr, w.gen, err == nil)
	w.gen.addListener(l)
	addr.add(l)
	return l
}

// logLevel is the level at which the reason a socket is not shared is
// logged: debug where sharing is not expected (not Linux, Unix sockets).
func logLevel(err error) zapcore.Level {
	if errors.Is(err, errors.ErrUnsupported) || errors.Is(err, errNotSocket) {
		return zapcore.DebugLevel
	}
	return zapcore.WarnLevel
}

// Cleanup forgets the http app once its servers are hooked.
func (w *Wrapper) Cleanup() error {
	if w.app != nil {
		hookedApps.Delete(w.app)
	}
	return nil
}

// UnmarshalCaddyfile sets up the wrapper from Caddyfile tokens:
//
//	reload_safe {
//		drain_timeout <duration>
//	}
func (w *Wrapper) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the wrapper's name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "drain_timeout":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("drain_timeout %q: %v", d.Val(), err)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			w.DrainTimeout = caddy.Duration(dur)
		default:
			return d.Errf("unknown reload_safe option %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Module          = (*Wrapper)(nil)
	_ caddy.Provisioner     = (*Wrapper)(nil)
	_ caddy.Validator       = (*Wrapper)(nil)
	_ caddy.CleanerUpper    = (*Wrapper)(nil)
	_ caddy.ListenerWrapper = (*Wrapper)(nil)
	_ caddyfile.Unmarshaler = (*Wrapper)(nil)
)
