package firewall

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func TestParsePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8":          "10.0.0.0/8",
		"10.1.2.3/8":          "10.0.0.0/8",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"::ffff:10.1.1.1":     "10.1.1.1/32",
		"2001:db8::/32":       "2001:db8::/32",
		"2001:db8::5":         "2001:db8::5/128",
	} {
		p, err := parsePrefix(in)
		if err != nil || p.String() != want {
			t.Errorf("parsePrefix(%s) = %s, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "010.0.0.1", "10.0.0.1/8/8", "fe80::1%eth0", "example.com"} {
		if p, err := parsePrefix(bad); err == nil {
			t.Errorf("parsePrefix(%q) = %s, want an error", bad, p)
		}
	}
}

func TestReadNetSetNamesTheBadLine(t *testing.T) {
	_, err := readNetSet("deny.txt", strings.NewReader("# deny list\n10.0.0.0/8\n\n192.0.2.1 # one host\n10.0.0.0/99\n"))
	if err == nil || !strings.Contains(err.Error(), "deny.txt:5") {
		t.Fatalf("got %v, want an error naming deny.txt:5", err)
	}
	s, err := readNetSet("ok.txt", strings.NewReader("10.0.0.0/8\n::ffff:192.0.2.0/120 # mapped\n2001:db8::/32\n"))
	if err != nil || s.size != 3 {
		t.Fatalf("got %v, %v", s, err)
	}
	for addr, want := range map[string]bool{"10.1.1.1": true, "192.0.2.7": true, "192.0.3.7": false, "2001:db8::9": true, "2001:db9::9": false} {
		if got := s.contains(netip.MustParseAddr(addr)); got != want {
			t.Errorf("contains(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestNetSetAgainstLinearScan checks the trie against a linear scan of
// the same prefixes, on random IPv4 and IPv6 prefixes and addresses drawn
// near them.
func TestNetSetAgainstLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var prefixes []netip.Prefix
	var entries []string
	for range 2000 {
		p := randomPrefix(rng)
		prefixes = append(prefixes, p)
		entries = append(entries, p.String())
	}
	set, err := newNetSet(entries)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20000 {
		a := randomAddr(rng, prefixes[i%len(prefixes)].Addr())
		want := false
		for _, p := range prefixes {
			if p.Contains(a) {
				want = true
				break
			}
		}
		if got := set.contains(a); got != want {
			t.Fatalf("contains(%s) = %v, linear scan says %v", a, got, want)
		}
	}
}

func randomPrefix(rng *rand.Rand) netip.Prefix {
	if rng.IntN(2) == 0 {
		var b [4]byte
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return netip.PrefixFrom(netip.AddrFrom4(b), 8+rng.IntN(25)).Masked()
	}
	var b [16]byte
	b[0], b[1] = 0x20, 0x01
	for i := 2; i < 16; i++ {
		b[i] = byte(rng.UintN(256))
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), 16+rng.IntN(113)).Masked()
}

// randomAddr returns an address sharing a random number of leading bits
// with near, so lookups land both inside and outside the prefixes.
func randomAddr(rng *rand.Rand, near netip.Addr) netip.Addr {
	b := near.AsSlice()
	for i := rng.IntN(len(b)); i < len(b); i++ {
		b[i] = byte(rng.UintN(256))
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// FuzzReadNetSet feeds arbitrary bytes to the network file parser: it
// never panics, and when it accepts a file, every address it read is in
// the set.
func FuzzReadNetSet(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8\n", "# c\n\n::ffff:1.2.3.4/120 # x\n", "2001:db8::1\n1.2.3.4", "1.2.3.4/33\n", "\x00\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		set, err := readNetSet("fuzz.txt", strings.NewReader(text))
		if err != nil {
			return
		}
		for _, line := range strings.Split(text, "\n") {
			entry, _, _ := strings.Cut(line, "#")
			if entry = strings.TrimSpace(entry); entry == "" {
				continue
			}
			p, err := parsePrefix(entry)
			if err != nil {
				t.Fatalf("accepted file has a line the parser refuses: %q", entry)
			}
			if !set.contains(p.Addr()) {
				t.Fatalf("%q read but %s not in the set", entry, p.Addr())
			}
		}
	})
}
