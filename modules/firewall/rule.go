package firewall

import (
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Actions a rule takes when it matches.
const (
	ActionAllow = "allow"
	ActionDeny  = "deny"
	ActionLog   = "log"
)

// Rule is one firewall rule: when every condition it has holds, it takes
// its action. Conditions of one rule are and-ed; a rule without conditions
// matches every request.
type Rule struct {
	// Name identifies the rule in logs, metrics and the admin route.
	// Default: the action and the rule's position, e.g. "deny#2".
	Name string `json:"name,omitempty"`

	// Action is `allow` (stop evaluating, let the request through),
	// `deny` (stop evaluating, answer 403 Forbidden) or `log` (log and
	// count the match, then go on with the next rule: a dry run of a
	// deny rule).
	Action string `json:"action"`

	// Networks the client IP must be in: CIDRs or single addresses, IPv4
	// or IPv6. IPv4-mapped IPv6 forms (::ffff:10.0.0.0/104) mean the IPv4
	// networks they cover. The client IP is Caddy's: the peer, or, when
	// the peer is one of the server's trusted_proxies, the right-most
	// untrusted address of X-Forwarded-For (which needs
	// trusted_proxies_strict; see the firewall's TrustLeftmostClientIP).
	Networks []string `json:"networks,omitempty"`

	// NetworkFiles are files with one CIDR or address per line (# starts
	// a comment), checked like Networks. They are re-read without a config
	// reload once a change has stood for one ReloadInterval of the firewall
	// (so a file written in place is not read half-way); a
	// re-read that fails keeps the previous list and is logged. A file that
	// cannot be read when the config loads fails the load.
	NetworkFiles []string `json:"network_files,omitempty"`

	// MatchRaw holds Caddy request matchers (path, method, host, header,
	// expression, ...) of which at least one set must match. They see the
	// canonical path.
	MatchRaw caddyhttp.RawMatcherSets `json:"match,omitempty" caddy:"namespace=http.matchers"`

	// User conditions on the authenticated user, as the authentication
	// handler left it in the {http.auth.user.*} placeholders: each key
	// (`id`, or a metadata key such as `role`) must have one of the listed
	// values; the value `*` stands for any non-empty value. A request that
	// no authentication handler authenticated before the firewall has no
	// user, so these conditions never hold for it: place the firewall after
	// authentication to use them (see the README).
	User map[string][]string `json:"user,omitempty"`

	match    caddyhttp.MatcherSets
	users    []userCondition
	nets     *netSet
	files    []*listFile
	fileKeys []string
	hits     *ruleCounter
}

// provision loads the rule's matchers and networks.
func (r *Rule) provision(ctx caddy.Context, f *Firewall, index int) error {
	switch r.Action {
	case ActionAllow, ActionDeny, ActionLog:
	case "":
		return fmt.Errorf("rule %d: no action (allow, deny or log)", index)
	default:
		return fmt.Errorf("rule %d: unknown action %q (want allow, deny or log)", index, r.Action)
	}
	if r.Name == "" {
		r.Name = fmt.Sprintf("%s#%d", r.Action, index)
	}
	if r.MatchRaw != nil {
		mods, err := ctx.LoadModule(r, "MatchRaw")
		if err != nil {
			return fmt.Errorf("rule %s: loading matchers: %v", r.Name, err)
		}
		if err := r.match.FromInterface(mods); err != nil {
			return fmt.Errorf("rule %s: %v", r.Name, err)
		}
	}
	if len(r.Networks) > 0 {
		set, err := newNetSet(r.Networks)
		if err != nil {
			return fmt.Errorf("rule %s: %v", r.Name, err)
		}
		r.nets = set
	}
	for _, path := range r.NetworkFiles {
		lf, key, err := acquireListFile(path, time.Duration(f.ReloadInterval))
		if err != nil {
			return fmt.Errorf("rule %s: %v", r.Name, err)
		}
		r.files, r.fileKeys = append(r.files, lf), append(r.fileKeys, key)
	}
	for key, values := range r.User {
		if key == "" || len(values) == 0 {
			return fmt.Errorf("rule %s: a user condition needs a key and at least one value", r.Name)
		}
		r.users = append(r.users, userCondition{placeholder: "http.auth.user." + key, values: values})
	}
	return nil
}

// userCondition is one key of a rule's User conditions.
type userCondition struct {
	placeholder string
	values      []string
}

// hasNetworks reports whether the rule has a client network condition.
func (r *Rule) hasNetworks() bool { return r.nets != nil || len(r.files) > 0 }

// matches evaluates the rule's conditions, the cheapest first.
func (r *Rule) matches(req *http.Request, client netip.Addr, repl *caddy.Replacer) (bool, error) {
	if r.hasNetworks() && !r.inNetworks(client) {
		return false, nil
	}
	for _, u := range r.users {
		v, _ := repl.GetString(u.placeholder)
		if !userValueMatches(v, u.values) {
			return false, nil
		}
	}
	if len(r.match) > 0 {
		return r.match.AnyMatchWithError(req)
	}
	return true, nil
}

// inNetworks reports whether a valid client address is in the rule's
// networks; an unknown client address is in none.
func (r *Rule) inNetworks(client netip.Addr) bool {
	if !client.IsValid() {
		return false
	}
	if r.nets != nil && r.nets.contains(client) {
		return true
	}
	for _, f := range r.files {
		if f.set.Load().contains(client) {
			return true
		}
	}
	return false
}

func userValueMatches(v string, values []string) bool {
	if v == "" {
		return false
	}
	for _, want := range values {
		if want == "*" || want == v {
			return true
		}
	}
	return false
}

// release lets go of the rule's network files.
func (r *Rule) release() {
	for _, key := range r.fileKeys {
		_, _ = listFiles.Delete(key)
	}
	r.fileKeys = nil
}
