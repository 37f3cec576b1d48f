package firewall

import (
	"cmp"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/internal/adminjson"
)

func init() {
	caddy.RegisterModule(adminFirewall{})
	adminjson.Register("firewall", func() any { return firewallState() })
}

// adminFirewall is the admin API route /frontdesk/firewall: every named
// firewall's hit count per rule, and every network file in use with its
// size, when it was last read and its last error. It reads package-level
// state, so it answers during reloads too.
type adminFirewall struct{}

// CaddyModule returns the Caddy module information.
func (adminFirewall) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.frontdesk_firewall",
		New: func() caddy.Module { return new(adminFirewall) },
	}
}

// Routes returns the /frontdesk/firewall route.
func (adminFirewall) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{adminjson.Route("/frontdesk/firewall", func() any { return firewallState() })}
}

// firewallStatus is the answer of /frontdesk/firewall.
type firewallStatus struct {
	Firewalls    []namedHits      `json:"firewalls"`
	NetworkFiles []listFileStatus `json:"network_files"`
}

type namedHits struct {
	Name  string           `json:"name"`
	Rules []ruleHitsStatus `json:"rules"`
}

func firewallState() firewallStatus {
	out := firewallStatus{Firewalls: []namedHits{}, NetworkFiles: []listFileStatus{}}
	allStats.Range(func(_, v any) bool {
		s := v.(*firewallStats)
		out.Firewalls = append(out.Firewalls, namedHits{Name: s.name, Rules: s.snapshot()})
		return true
	})
	listFiles.Range(func(_, v any) bool {
		out.NetworkFiles = append(out.NetworkFiles, v.(*listFile).status())
		return true
	})
	slices.SortFunc(out.Firewalls, func(a, b namedHits) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(out.NetworkFiles, func(a, b listFileStatus) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

// Interface guard
var _ caddy.AdminRouter = (*adminFirewall)(nil)
