package firewall

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// allStats holds the hit counts of every named firewall, so they survive
// config reloads while some config has a firewall of that name.
var allStats = caddy.NewUsagePool()

// firewallStats are the hit counts of one named firewall.
type firewallStats struct {
	name        string
	mu          sync.Mutex
	rules       map[string]*ruleCounter
	defaultHits *ruleCounter
}

// ruleCounter counts the matches of one rule, for the admin route and
// the rule-hits metric.
type ruleCounter struct {
	rule, action string
	n            atomic.Int64
	metric       prometheus.Counter
}

func newRuleCounter(firewall, rule, action string) *ruleCounter {
	return &ruleCounter{rule: rule, action: action, metric: ruleHits.WithLabelValues(firewall, rule, action)}
}

func (c *ruleCounter) add() {
	c.n.Add(1)
	c.metric.Inc()
}

// acquireStats returns the counts of the named firewall; release them
// with allStats.Delete(name).
func acquireStats(name string) *firewallStats {
	v, _, _ := allStats.LoadOrNew(name, func() (caddy.Destructor, error) {
		return &firewallStats{name: name, rules: map[string]*ruleCounter{},
			defaultHits: newRuleCounter(name, "default", "default")}, nil
	})
	return v.(*firewallStats)
}

// Destruct implements caddy.Destructor; counts hold no resources.
func (*firewallStats) Destruct() error { return nil }

// counter returns the running counter of a rule, keeping its count when
// a reload keeps the rule's name and action.
func (s *firewallStats) counter(rule, action string) *ruleCounter {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := rule + "\x00" + action
	c := s.rules[key]
	if c == nil {
		c = newRuleCounter(s.name, rule, action)
		s.rules[key] = c
	}
	return c
}

// ruleHitsStatus is one rule's count in the admin route.
type ruleHitsStatus struct {
	Rule   string `json:"rule"`
	Action string `json:"action"`
	Hits   int64  `json:"hits"`
}

// snapshot returns the counts by rule name, the default last.
func (s *firewallStats) snapshot() []ruleHitsStatus {
	s.mu.Lock()
	out := make([]ruleHitsStatus, 0, len(s.rules)+1)
	for _, c := range s.rules {
		out = append(out, ruleHitsStatus{Rule: c.rule, Action: c.action, Hits: c.n.Load()})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b ruleHitsStatus) int { return cmp.Compare(a.Rule, b.Rule) })
	return append(out, ruleHitsStatus{Rule: "default", Action: "default", Hits: s.defaultHits.n.Load()})
}

// Interface guard
var _ caddy.Destructor = (*firewallStats)(nil)
