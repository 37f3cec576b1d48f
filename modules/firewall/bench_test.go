package firewall

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// BenchmarkNetSetLookup looks random addresses up in sets of random IPv4
// and IPv6 prefixes; the 1k set is the baseline for the 1M one.
func BenchmarkNetSetLookup(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		rng := rand.New(rand.NewPCG(uint64(n), 7))
		set, _ := newNetSet(nil)
		prefixes := make([]netip.Prefix, n)
		for i := range prefixes {
			prefixes[i] = randomPrefix(rng)
			set.trie.Insert(prefixes[i])
		}
		addrs := make([]netip.Addr, 4096)
		for i := range addrs {
			addrs[i] = randomAddr(rng, prefixes[rng.IntN(n)].Addr())
		}
		b.Run(fmt.Sprintf("%d_prefixes", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				set.contains(addrs[i&4095])
				i++
			}
		})
	}
}

// BenchmarkRules runs whole requests (path canonicalisation, client IP,
// rules) through firewalls of no rules, 50 network rules, and 50 rules
// of networks, paths (Caddy's path matcher) and user roles; the request
// matches none of them but the last, so all 50 are evaluated.
func BenchmarkRules(b *testing.B) {
	for _, bc := range []struct {
		name  string
		n     int
		kinds int
	}{{"0_rules", 0, 1}, {"50_network_rules", 50, 1}, {"50_mixed_rules", 50, 3}} {
		n := bc.n
		var rules []string
		for i := range n - 1 {
			switch i % bc.kinds {
			case 0:
				rules = append(rules, fmt.Sprintf(`{"action": "deny", "networks": ["10.%d.0.0/16", "2001:db8:%x::/48"]}`, i, i))
			case 1:
				rules = append(rules, fmt.Sprintf(`{"action": "deny", "match": [{"path": ["/private%d/*"]}]}`, i))
			default:
				rules = append(rules, fmt.Sprintf(`{"action": "log", "user": {"role": ["r%d"]}}`, i))
			}
		}
		if n > 0 {
			rules = append(rules, `{"action": "allow", "networks": ["203.0.113.0/24"]}`)
		}
		f := mustFirewall(b, `{"rules": [`+strings.Join(rules, ",")+`]}`)
		next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
		w := httptest.NewRecorder()
		const target = "/api/v1//orders/./42"
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil)
		caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, "203.0.113.9")
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.URL.Path, r.URL.RawPath, r.RequestURI = target, "", target
				if err := f.ServeHTTP(w, r, next); err != nil || w.Code != http.StatusOK {
					b.Fatalf("request not let through: %v %d", err, w.Code)
				}
			}
		})
	}
}

// BenchmarkReadNetSet parses a network file of 1,000,000 random prefixes
// into a set, as a config load or a changed file does.
func BenchmarkReadNetSet(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 5))
	var file strings.Builder
	for range 1_000_000 {
		file.WriteString(randomPrefix(rng).String())
		file.WriteByte('\n')
	}
	text := file.String()
	for b.Loop() {
		if _, err := readNetSet("bench.txt", strings.NewReader(text)); err != nil {
			b.Fatal(err)
		}
	}
}
