package clientip

import (
	"net/netip"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"10.66.1.1":              "10.66.1.1",
		"::ffff:10.66.1.1":       "10.66.1.1",
		"::ffff:a42:101":         "10.66.1.1",
		"::10.66.1.1":            "10.66.1.1",
		"fe80::1%eth0":           "fe80::1",
		"::1":                    "::1",
		"::":                     "::",
		"2001:db8::1":            "2001:db8::1",
		"64:ff9b::a42:101":       "64:ff9b::a42:101",
		"::ffff:0:10.66.1.1":     "::ffff:0:a42:101",
		"0:0:0:0:0:ffff:1.2.3.4": "1.2.3.4",
	} {
		if got := Normalize(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("Normalize(%s) = %s, want %s", in, got, want)
		}
	}
}
