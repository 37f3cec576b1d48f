package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestLenEncIntEdges(t *testing.T) {
	cases := []struct {
		v    uint64
		size int
	}{
		{0, 1}, {250, 1}, {251, 3}, {252, 3}, {0xffff, 3}, {0x10000, 4},
		{0xffffff, 4}, {0x1000000, 9}, {1 << 63, 9}, {^uint64(0), 9},
	}
	for _, c := range cases {
		b := AppendLenEncInt([]byte{0xaa}, c.v)[1:]
		if len(b) != c.size || LenEncIntSize(c.v) != c.size {
			t.Errorf("%#x: encoded %d bytes (%x), LenEncIntSize %d, want %d", c.v, len(b), b, LenEncIntSize(c.v), c.size)
		}
		v, n, err := ReadLenEncInt(append(b, 0x77))
		if err != nil || v != c.v || n != c.size {
			t.Errorf("%#x: ReadLenEncInt = %#x, %d, %v", c.v, v, n, err)
		}
		// Every truncation of a multi-byte encoding is an error.
		for i := range len(b) {
			if _, _, err := ReadLenEncInt(b[:i]); err == nil {
				t.Errorf("%#x: truncated to %d bytes: no error", c.v, i)
			}
		}
	}
}

func TestLenEncIntMarkers(t *testing.T) {
	if _, n, err := ReadLenEncInt([]byte{0xfb}); !errors.Is(err, ErrLenEncNull) || n != 1 {
		t.Errorf("0xfb: n=%d err=%v, want ErrLenEncNull", n, err)
	}
	if _, _, err := ReadLenEncInt([]byte{0xff, 1, 2}); err == nil {
		t.Error("0xff: no error")
	}
}

func TestLenEncString(t *testing.T) {
	for _, size := range []int{0, 1, 250, 251, 0xffff, 0x10000} {
		s := bytes.Repeat([]byte{'x'}, size)
		b := AppendLenEncString(nil, s)
		got, n, err := ReadLenEncString(append(b, 'y'))
		if err != nil || n != len(b) || !bytes.Equal(got, s) {
			t.Fatalf("size %d: n=%d err=%v", size, n, err)
		}
		if size > 0 {
			if _, _, err := ReadLenEncString(b[:len(b)-1]); err == nil {
				t.Errorf("size %d: truncated string: no error", size)
			}
		}
	}
	if b := AppendLenEncString(nil, "abc"); !bytes.Equal(b, []byte{3, 'a', 'b', 'c'}) {
		t.Errorf("string form: %x", b)
	}
	if _, n, err := ReadLenEncString([]byte{0xfb, 1}); !errors.Is(err, ErrLenEncNull) || n != 1 {
		t.Errorf("NULL: n=%d err=%v", n, err)
	}
	// A 9-byte length far beyond the input must not overflow.
	huge := AppendLenEncInt(nil, 1<<63+5)
	if _, _, err := ReadLenEncString(huge); err == nil {
		t.Error("huge length: no error")
	}
}

func TestNULString(t *testing.T) {
	b := AppendNULString(nil, "root")
	s, n, err := ReadNULString(append(b, 'z'))
	if err != nil || string(s) != "root" || n != 5 {
		t.Errorf("got %q, %d, %v", s, n, err)
	}
	if _, _, err := ReadNULString([]byte("root")); err == nil {
		t.Error("missing NUL: no error")
	}
	if b := AppendUint24(nil, 0x123456); !bytes.Equal(b, []byte{0x56, 0x34, 0x12}) {
		t.Errorf("AppendUint24: %x", b)
	}
}

func FuzzLenEnc(f *testing.F) {
	for _, seed := range [][]byte{{0}, {250}, {0xfb}, {0xfc, 1}, {0xfc, 1, 2}, {0xfd, 1, 2, 3}, {0xfe, 1, 2, 3, 4, 5, 6, 7, 8}, {0xff}, {3, 'a', 'b', 'c'}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := ReadLenEncInt(b)
		if err == nil {
			if n > len(b) || n != LenEncIntSize(v) && b[0] < 0xfb {
				t.Fatalf("n=%d for %x", n, b)
			}
			// Canonical encodings round-trip.
			if enc := AppendLenEncInt(nil, v); len(enc) == n && !bytes.Equal(enc, b[:n]) {
				t.Fatalf("re-encoding %#x: %x, want %x", v, enc, b[:n])
			}
		}
		s, n, err := ReadLenEncString(b)
		if err == nil {
			if n > len(b) || len(s) > n {
				t.Fatalf("string n=%d len=%d for %d bytes", n, len(s), len(b))
			}
			got, _, err := ReadLenEncString(AppendLenEncString(nil, s))
			if err != nil || !bytes.Equal(got, s) {
				t.Fatalf("string round trip: %v", err)
			}
		}
		if s, n, err := ReadNULString(b); err == nil && (n != len(s)+1 || n > len(b)) {
			t.Fatalf("NUL string n=%d len=%d", n, len(s))
		}
	})
}
