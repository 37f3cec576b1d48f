package firewall

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
)

func TestCanonicalPath(t *testing.T) {
	for _, c := range []struct {
		in, raw, decoded string
		err              error
	}{
		{in: "/", raw: "/", decoded: "/"},
		{in: "/a/b", raw: "/a/b", decoded: "/a/b"},
		{in: "//admin", raw: "/admin", decoded: "/admin"},
		{in: "/a//b///c/", raw: "/a/b/c/", decoded: "/a/b/c/"},
		{in: "/public/../admin", raw: "/admin", decoded: "/admin"},
		{in: "/public/%2e%2e/admin", raw: "/admin", decoded: "/admin"},
		{in: "/public/%2E%2e/admin", raw: "/admin", decoded: "/admin"},
		{in: "/public/.%2e/admin", raw: "/admin", decoded: "/admin"},
		{in: "/./admin/.", raw: "/admin/", decoded: "/admin/"},
		{in: "/../../admin", raw: "/admin", decoded: "/admin"},
		{in: "/a/b/..", raw: "/a/", decoded: "/a/"},
		{in: "/%61dmin", raw: "/admin", decoded: "/admin"},
		{in: "/a%3bb", raw: "/a%3Bb", decoded: "/a;b"},
		{in: "/a;b", raw: "/a;b", decoded: "/a;b"},
		{in: "/a%20b", raw: "/a%20b", decoded: "/a b"},
		{in: "/a%252e%252e/b", raw: "/a%252e%252e/b", decoded: "/a%2e%2e/b"},
		{in: "/caf\xc3\xa9", raw: "/caf%C3%A9", decoded: "/caf\u00e9"},
		{in: "/a\"b", raw: "/a%22b", decoded: "/a\"b"},
		{in: "/admin%2Fsecret", err: errEncodedSlash},
		{in: "/admin%2fsecret", err: errEncodedSlash},
		{in: "/admin%5Csecret", err: errBackslash},
		{in: "/admin\\secret", err: errBackslash},
		{in: "/admin%00.html", err: errNUL},
		{in: "/admin%0a", err: errNUL},
		{in: "/admin%zz", err: errBadEscape},
		{in: "/admin%2", err: errBadEscape},
		{in: "/public/..;/admin", err: errDotParam},
		{in: "/public/%2e%2e;x/admin", err: errDotParam},
		{in: "/public/.;/admin", err: errDotParam},
	} {
		raw, decoded, err := canonicalPath(c.in)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%q: got %q, %q, %v; want error %v", c.in, raw, decoded, err, c.err)
			}
			continue
		}
		if err != nil || raw != c.raw || decoded != c.decoded {
			t.Errorf("%q: got %q, %q, %v; want %q, %q", c.in, raw, decoded, err, c.raw, c.decoded)
		}
	}
}

// FuzzCanonicalPath checks the canonical form's promises on any input:
// it is stable (canonical input comes back unchanged), has no empty, "."
// or ".." segments, decodes to what it says, is kept as is by Go's URL,
// and on plain paths agrees with path.Clean.
func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "//x//y/", "/%2e%2E/", "/a%2fb", "/a;b/..;/c", "/%41%7e%25", "/caf\xc3\xa9/./"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		raw, decoded, err := canonicalPath("/" + in)
		if err != nil {
			return
		}
		again, decodedAgain, err := canonicalPath(raw)
		if err != nil || again != raw || decodedAgain != decoded {
			t.Fatalf("not stable: %q -> %q -> %q (%v)", in, raw, again, err)
		}
		if strings.Contains(raw, "//") {
			t.Fatalf("%q -> %q has an empty segment", in, raw)
		}
		for _, seg := range strings.Split(raw, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q -> %q keeps a dot segment", in, raw)
			}
		}
		if d, err := url.PathUnescape(raw); err != nil || d != decoded {
			t.Fatalf("%q -> %q decodes to %q (%v), reported %q", in, raw, d, err, decoded)
		}
		u := url.URL{Path: decoded, RawPath: raw}
		if u.EscapedPath() != raw && u.EscapedPath() != (&url.URL{Path: decoded}).EscapedPath() {
			t.Fatalf("Go's URL would send %q for %q", u.EscapedPath(), raw)
		}
		if strings.IndexFunc(in, func(r rune) bool { return !strings.ContainsRune("abc./", r) }) < 0 {
			want := path.Clean("/" + in)
			if strings.TrimSuffix(raw, "/") != strings.TrimSuffix(want, "/") && !(raw == "/" && want == "/") {
				t.Fatalf("%q: got %q, path.Clean says %q", in, raw, want)
			}
		}
	})
}
