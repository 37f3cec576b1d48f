package firewall

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/frontdesk-proxy/frontdesk/internal/clientip"
	"github.com/frontdesk-proxy/frontdesk/internal/friendly"
	"github.com/frontdesk-proxy/frontdesk/internal/promreg"
)

func init() {
	caddy.RegisterModule(Firewall{})
}

// Firewall keeps requests out of what they may not reach. It first puts
// the request path in its canonical form (see below), then evaluates its
// rules in order: the first `allow` or `deny` rule that matches decides,
// `log` rules only log and count what they match, and when no rule decides
// the Default action applies. A denied request gets 403 Forbidden with a
// short body (JSON, or HTML for browsers), a log line and a count on its
// rule.
//
// The canonical path: percent-encoded unreserved characters decoded, other
// escapes kept, runs of slashes collapsed, "." and ".." resolved. A path
// that a backend could read differently from the rules (an encoded slash
// or backslash, a backslash, NUL or control characters, malformed escapes,
// "..;" segments) is refused with 400 Bad Request. The request goes on
// with the canonical path, so the upstream receives exactly the path the
// rules saw.
//
// The client IP is the one Caddy determined: the peer's address, or when
// the peer is in the server's `trusted_proxies`, an address taken from
// X-Forwarded-For. IPv4-mapped and IPv4-compatible IPv6 addresses are
// checked as the IPv4 address they carry.
//
// Its module name is access_rules: `firewall` and `ip_filter`-like names
// are taken by other plugins, and two registrations of one name panic when
// built together.
type Firewall struct {
	// Name identifies the firewall in logs, metrics and the admin route
	// (/frontdesk/firewall); firewalls of one name share their hit counts,
	// which survive config reloads. Default: "default".
	Name string `json:"name,omitempty"`

	// Rules are evaluated in order; the first allow or deny rule that
	// matches decides.
	Rules []*Rule `json:"rules,omitempty"`

	// Default is the action when no rule decides: `allow` or `deny`.
	// Default: allow.
	Default string `json:"default,omitempty"`

	// ReloadInterval is how often network files are checked for changes.
	// Default: 5s.
	ReloadInterval caddy.Duration `json:"reload_interval,omitempty"`

	// TrustLeftmostClientIP lets network rules run on a server whose
	// trusted_proxies are set without trusted_proxies_strict. Caddy then
	// takes the client IP from the left-most X-Forwarded-For entry, which
	// the client writes itself, so a network rule could be dodged with a
	// forged header; without this option such a config is refused. Set it
	// only when every trusted proxy overwrites X-Forwarded-For rather than
	// appending to it.
	TrustLeftmostClientIP bool `json:"trust_leftmost_client_ip,omitempty"`

	stats  *firewallStats
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Firewall) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.access_rules",
		New: func() caddy.Module { return new(Firewall) },
	}
}

// Provision loads the rules, their matchers and network lists, and checks
// that network rules see a client IP the client cannot forge.
func (f *Firewall) Provision(ctx caddy.Context) error {
	f.logger = ctx.Logger()
	if f.Name == "" {
		f.Name = "default"
	}
	if f.Default == "" {
		f.Default = ActionAllow
	}
	if f.ReloadInterval == 0 {
		f.ReloadInterval = caddy.Duration(5 * time.Second)
	}
	if err := promreg.Register(ctx, collectors...); err != nil {
		return err
	}
	if err := f.validateSettings(); err != nil {
		return err
	}
	f.stats = acquireStats(f.Name)
	for i, r := range f.Rules {
		if r == nil {
			return fmt.Errorf("rule %d is empty", i+1)
		}
		if err := r.provision(ctx, f, i+1); err != nil {
			return err
		}
		r.hits = f.stats.counter(r.Name, r.Action)
		if r.hasNetworks() && !f.TrustLeftmostClientIP {
			if err := checkClientIPSource(ctx); err != nil {
				return fmt.Errorf("rule %s: %v", r.Name, err)
			}
		}
	}
	return nil
}

func (f *Firewall) validateSettings() error {
	if f.Default != ActionAllow && f.Default != ActionDeny {
		return fmt.Errorf("default action %q: want allow or deny", f.Default)
	}
	if f.ReloadInterval < 0 {
		return fmt.Errorf("reload_interval %s: must be positive", time.Duration(f.ReloadInterval))
	}
	return nil
}

// errLeftmostClientIP explains why a network rule was refused.
var errLeftmostClientIP = errors.New("the server has trusted_proxies without trusted_proxies_strict, " +
	"so Caddy takes the client IP from the left-most X-Forwarded-For entry, which the client can forge; " +
	"set trusted_proxies_strict in the server options (the right-most untrusted entry is then the client), " +
	"or trust_leftmost_client_ip in the firewall if every trusted proxy overwrites the header")

// checkClientIPSource refuses a server whose client IP comes from the
// left-most X-Forwarded-For entry. The server's trusted proxies are loaded
// (and their raw config cleared) before its routes are provisioned, so
// whether it has any is read from its unexported field; if a future Caddy
// renames it, strict mode is required whatever the proxies.
func checkClientIPSource(ctx caddy.Context) error {
	srv, ok := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if !ok || srv == nil || srv.TrustedProxiesStrict > 0 {
		return nil
	}
	field := reflect.ValueOf(srv).Elem().FieldByName("trustedProxies")
	if field.IsValid() && field.Kind() == reflect.Interface && field.IsNil() && srv.TrustedProxiesRaw == nil && !srv.TrustedProxiesUnix {
		return nil
	}
	return errLeftmostClientIP
}

// Validate checks the firewall's settings.
func (f *Firewall) Validate() error { return f.validateSettings() }

// Cleanup lets go of network files and hit counters.
func (f *Firewall) Cleanup() error {
	for _, r := range f.Rules {
		if r != nil {
			r.release()
		}
	}
	if f.stats != nil {
		_, _ = allStats.Delete(f.Name)
		f.stats = nil
	}
	return nil
}

// ServeHTTP canonicalises the path, evaluates the rules and denies or
// passes the request on.
func (f *Firewall) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if err := setCanonicalPath(r); err != nil {
		pathRejections.WithLabelValues(f.Name).Inc()
		f.logger.Info("request path refused as ambiguous", zap.String("firewall", f.Name),
			zap.String("client_ip", clientip.String(r)), zap.String("uri", r.RequestURI), zap.Error(err))
		return friendly.Write(w, r, friendly.Answer{
			Status:  http.StatusBadRequest,
			Code:    "bad_request",
			Message: "The request path is not valid.",
		})
	}
	client := clientip.Of(r)
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	for _, rule := range f.Rules {
		ok, err := rule.matches(r, client, repl)
		if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("firewall rule %s: %v", rule.Name, err))
		}
		if !ok {
			continue
		}
		rule.hits.add()
		switch rule.Action {
		case ActionLog:
			f.logMatch(zapcore.InfoLevel, "firewall rule matched (log only)", rule.Name, r, client)
		case ActionAllow:
			return next.ServeHTTP(w, r)
		case ActionDeny:
			return f.deny(w, r, rule.Name, client)
		}
	}
	f.stats.defaultHits.add()
	if f.Default == ActionDeny {
		return f.deny(w, r, "default", client)
	}
	return next.ServeHTTP(w, r)
}

func (f *Firewall) deny(w http.ResponseWriter, r *http.Request, rule string, client netip.Addr) error {
	f.logMatch(zapcore.InfoLevel, "request denied by firewall", rule, r, client)
	return friendly.Write(w, r, friendly.Answer{
		Status:  http.StatusForbidden,
		Code:    "forbidden",
		Message: "You do not have access to this resource.",
	})
}

func (f *Firewall) logMatch(level zapcore.Level, msg, rule string, r *http.Request, client netip.Addr) {
	if c := f.logger.Check(level, msg); c != nil {
		c.Write(zap.String("firewall", f.Name), zap.String("rule", rule), zap.Stringer("client_ip", client),
			zap.String("method", r.Method), zap.String("host", r.Host), zap.String("path", r.URL.Path))
	}
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*Firewall)(nil)
	_ caddy.Provisioner           = (*Firewall)(nil)
	_ caddy.Validator             = (*Firewall)(nil)
	_ caddy.CleanerUpper          = (*Firewall)(nil)
)
