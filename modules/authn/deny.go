package authn

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/frontdesk-proxy/frontdesk/internal/friendly"
)

// failure says why a request is not let through. Its reason is for logs
// and metrics; the client sees only the status, the code and a message
// that helps a legitimate client without helping an attacker.
type failure struct {
	// status is 401 (no or bad credentials) or 403 (valid credentials
	// that lack a required claim or scope).
	status int
	// code is the RFC 6750 error code of the challenge: invalid_request,
	// invalid_token or insufficient_scope; empty when the request carried
	// no credentials at all, which RFC 6750 §3.1 answers without a code.
	code string
	// reason is the metric label and log reason, such as "expired".
	reason string
	// message is one sentence for the client.
	message string
}

// The failures both providers share.
var (
	errAmbiguous = failure{http.StatusUnauthorized, "invalid_request", "ambiguous_credentials",
		"The request carries more than one credential; send exactly one."}
	errForbidden = failure{http.StatusForbidden, "insufficient_scope", "insufficient_scope",
		"These credentials are valid but do not grant access to this resource."}
)

// gate answers the requests a provider turns away and counts every
// decision. Both providers embed one.
type gate struct {
	// provider is the provider's name in metrics and logs.
	provider string
	// challenge is the start of the WWW-Authenticate header, such as
	// `Bearer realm="api"`.
	challenge string
	logger    *zap.Logger
	// ok counts the requests let through.
	ok prometheus.Counter
}

func newGate(provider, scheme, realm string, extra string, logger *zap.Logger) gate {
	c := scheme + " realm=" + strconv.Quote(realm)
	if extra != "" {
		c += ", " + extra
	}
	return gate{provider: provider, challenge: c, logger: logger, ok: authResults.WithLabelValues(provider, "ok")}
}

// allow counts a request that was let through.
func (g *gate) allow(user caddyauth.User) (caddyauth.User, bool, error) {
	g.ok.Inc()
	return user, true, nil
}

// deny writes the answer for f, logs and counts it, and tells Caddy's
// authentication handler that the request is not authenticated. fields
// add safe details to the log line (never a credential).
func (g *gate) deny(w http.ResponseWriter, r *http.Request, f failure, fields ...zap.Field) (caddyauth.User, bool, error) {
	authResults.WithLabelValues(g.provider, f.reason).Inc()
	if c := g.logger.Check(zapcore.InfoLevel, "request not authenticated"); c != nil {
		c.Write(append(fields, zap.String("provider", g.provider), zap.String("reason", f.reason),
			zap.Int("status", f.status), zap.String("remote_ip", remoteIP(r)),
			zap.String("method", r.Method), zap.String("path", r.URL.Path))...)
	}
	challenge := g.challenge
	if f.code != "" {
		challenge += `, error="` + f.code + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	code := f.code
	if code == "" {
		code = "unauthenticated"
	}
	err := friendly.Write(w, r, friendly.Answer{Status: f.status, Code: code, Message: f.message})
	return caddyauth.User{}, false, err
}

// remoteIP is the address of the peer, without its port.
func remoteIP(r *http.Request) string {
	if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
		return strings.Trim(r.RemoteAddr[:i], "[]")
	}
	return r.RemoteAddr
}

// logValue shortens an attacker-controlled value (such as a key id) for a
// log line.
func logValue(s string) string {
	const most = 64
	if len(s) > most {
		return s[:most] + "..."
	}
	return s
}
