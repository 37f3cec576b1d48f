package firewall

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/gaissmai/bart"

	"github.com/frontdesk-proxy/frontdesk/internal/clientip"
)

// parsePrefix parses a CIDR or a single address (as a /32 or /128) into
// its normalised, masked prefix. A prefix inside ::ffff:0:0/96 becomes
// the IPv4 prefix it covers.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %q has a zone", s)
		}
		a = clientip.Normalize(a)
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// netSet is a set of IPv4 and IPv6 prefixes in a prefix trie: a lookup
// costs the same with a thousand prefixes or millions.
type netSet struct {
	trie *bart.Lite
	size int
}

// newNetSet builds a set from CIDRs and addresses; errors name the entry.
func newNetSet(entries []string) (*netSet, error) {
	s := &netSet{trie: new(bart.Lite)}
	for _, e := range entries {
		if err := s.add(e); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *netSet) add(entry string) error {
	p, err := parsePrefix(strings.TrimSpace(entry))
	if err != nil {
		return fmt.Errorf("network %q: %v", entry, err)
	}
	s.trie.Insert(p)
	s.size++
	return nil
}

// contains reports whether a normalised address lies in one of the
// set's prefixes.
func (s *netSet) contains(a netip.Addr) bool { return s.trie.Lookup(a) }

// readNetSet reads a network list: one CIDR or address per line; blank
// lines and text after # are ignored. Errors name the line.
func readNetSet(name string, r io.Reader) (*netSet, error) {
	s := &netSet{trie: new(bart.Lite)}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		if text = strings.TrimSpace(text); text == "" {
			continue
		}
		if err := s.add(text); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %v", name, err)
	}
	return s, nil
}
