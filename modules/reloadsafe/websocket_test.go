package reloadsafe

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// frame builds a WebSocket frame with a payload of n bytes, masked or not,
// with the shortest length encoding unless long asks for the 64-bit one.
func frame(n int, masked, long bool) []byte {
	b := []byte{0x82}
	mask := byte(0)
	if masked {
		mask = 0x80
	}
	switch {
	case long:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	case n >= 126:
		b = append(b, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mask|byte(n))
	}
	if masked {
		b = append(b, 1, 2, 3, 4)
	}
	return append(b, bytes.Repeat([]byte{'x'}, n)...)
}

// boundaries parses stream whole and returns the offsets at which a frame
// ends (0 included).
func boundaries(stream []byte) map[uint64]bool {
	ends := map[uint64]bool{0: true}
	var pos uint64
	for {
		rest := stream[pos:]
		if len(rest) < 2 {
			return ends
		}
		hs := uint64(headerSize(rest[1]))
		if uint64(len(rest)) < hs {
			return ends
		}
		var n uint64
		switch l := rest[1] & 0x7f; l {
		case 126:
			n = uint64(binary.BigEndian.Uint16(rest[2:]))
		case 127:
			n = binary.BigEndian.Uint64(rest[2:])
		default:
			n = uint64(l)
		}
		if n > uint64(len(rest))-hs {
			return ends
		}
		pos += hs + n
		ends[pos] = true
	}
}

// checkTracker feeds stream to a tracker in pieces cut at cuts and checks
// after each piece that it is at a boundary exactly where one is.
func checkTracker(t *testing.T, stream []byte, cuts []int) {
	t.Helper()
	ends := boundaries(stream)
	var tr frameTracker
	pos := 0
	for _, cut := range append(cuts, len(stream)) {
		if cut < pos || cut > len(stream) {
			continue
		}
		want := 0
		if !tr.atBoundary() {
			for want = 1; want < cut-pos && !ends[uint64(pos+want)]; want++ {
			}
			want = min(want, cut-pos)
		}
		if k := tr.toBoundary(stream[pos:cut]); k != want {
			t.Fatalf("toBoundary over bytes %d-%d: %d, want %d", pos, cut, k, want)
		}
		tr.write(stream[pos:cut])
		pos = cut
		if got := tr.atBoundary(); got != ends[uint64(pos)] {
			t.Fatalf("after %d of %d bytes (cuts %v): atBoundary %v, want %v", pos, len(stream), cuts, got, ends[uint64(pos)])
		}
	}
}

func TestFrameTracker(t *testing.T) {
	stream := bytes.Join([][]byte{
		frame(0, false, false),   // empty payload
		frame(5, false, false),   // 7-bit length
		frame(125, true, false),  // largest 7-bit, masked
		frame(126, false, false), // smallest 16-bit
		frame(300, true, false),  // 16-bit, masked
		frame(70000, false, true),
		frame(3, false, true), // 64-bit length for a short payload
		{0x88, 0x02, 0x03, 0xe9},
	}, nil)
	t.Run("whole", func(t *testing.T) { checkTracker(t, stream, nil) })
	t.Run("byte by byte", func(t *testing.T) {
		cuts := make([]int, len(stream))
		for i := range cuts {
			cuts[i] = i
		}
		checkTracker(t, stream, cuts)
	})
	t.Run("in the headers", func(t *testing.T) {
		// 7: inside frame 2's header; 135-137: the 16-bit length; the
		// 64-bit length of the 70000-byte frame.
		start64 := len(frame(0, false, false)) + len(frame(5, false, false)) + len(frame(125, true, false)) +
			len(frame(126, false, false)) + len(frame(300, true, false))
		checkTracker(t, stream, []int{1, 7, 8, 135, 136, 137, start64 + 1, start64 + 2, start64 + 5, start64 + 9, start64 + 10, start64 + 40000})
	})
}

func TestFrameTrackerToBoundary(t *testing.T) {
	var tr frameTracker
	if k := tr.toBoundary([]byte{0x81}); k != 0 {
		t.Errorf("at a boundary toBoundary is %d, want 0", k)
	}
	f1, f2 := frame(10, false, false), frame(200, false, false)
	tr.write(f1[:4]) // in the middle of f1
	both := append(append([]byte{}, f1[4:]...), f2...)
	if k := tr.toBoundary(both); k != len(f1)-4 {
		t.Errorf("toBoundary in the middle of a frame followed by another: %d, want %d", k, len(f1)-4)
	}
	if k := tr.toBoundary(f1[4:6]); k != 2 {
		t.Errorf("toBoundary over bytes that do not end the frame: %d, want 2", k)
	}
}

func TestWebsocketStart(t *testing.T) {
	head := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\n"
	for _, tc := range []struct {
		in   string
		ok   bool
		rest string
	}{
		{head, true, ""},
		{head + "\x81\x01a", true, "\x81\x01a"},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", false, ""},
		{"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\n\r\n", false, ""},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", false, ""}, // head not whole
		{"HTTP/1.1 101", false, ""},
	} {
		rest, ok := websocketStart([]byte(tc.in))
		if ok != tc.ok || string(rest) != tc.rest {
			t.Errorf("websocketStart(%q) = %q, %v; want %q, %v", tc.in, rest, ok, tc.rest, tc.ok)
		}
	}
}

// wsPair returns a wsWriter over the server side of a loopback TCP
// connection, and the client side.
func wsPair(t *testing.T) (*wsWriter, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return &wsWriter{below: server}, client
}

// readAll reads what the client gets until the server closes.
func readAll(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	return b
}

// TestGoAwayBetweenFrames: drain_timeout ends between frames; the close
// frame goes out at once and the connection closes.
func TestGoAwayBetweenFrames(t *testing.T) {
	w, client := wsPair(t)
	f := frame(20, false, false)
	if _, err := w.Write(f); err != nil {
		t.Fatal(err)
	}
	w.goAway()
	if got, want := readAll(t, client), append(f, wsGoingAway...); !bytes.Equal(got, want) {
		t.Fatalf("client got % x, want % x", got, want)
	}
	if _, err := w.Write(f); err == nil {
		t.Error("a write after the close frame succeeded")
	}
}

// TestGoAwayMidFrame: drain_timeout ends while the server is in the
// middle of a 16-bit-length frame; its next write finishes the frame and
// begins another, of which nothing goes out: the close frame follows the
// first frame.
func TestGoAwayMidFrame(t *testing.T) {
	w, client := wsPair(t)
	f1, f2 := frame(1000, false, false), frame(10, false, false)
	if _, err := w.Write(f1[:500]); err != nil {
		t.Fatal(err)
	}
	w.goAway()
	rest := append(append([]byte{}, f1[500:]...), f2...)
	n, err := w.Write(rest)
	if n != len(f1)-500 || err == nil {
		t.Errorf("write across the boundary wrote %d, %v; want %d and an error", n, err, len(f1)-500)
	}
	if got, want := readAll(t, client), append(append([]byte{}, f1...), wsGoingAway...); !bytes.Equal(got, want) {
		t.Fatalf("client got %d bytes ending % x, want %d ending % x", len(got), got[max(0, len(got)-6):], len(want), want[len(want)-6:])
	}
}

// TestGoAwayNoBoundary: the frame never ends; the connection is closed
// without a close frame after wsBoundaryWait.
func TestGoAwayNoBoundary(t *testing.T) {
	w, client := wsPair(t)
	f := frame(1000, false, false)
	if _, err := w.Write(f[:10]); err != nil {
		t.Fatal(err)
	}
	w.goAway()
	if got := readAll(t, client); !bytes.Equal(got, f[:10]) {
		t.Fatalf("client got % x, want the frame's first 10 bytes and no close frame", got)
	}
}

// FuzzFrameTracker feeds any byte stream, cut anywhere, to the tracker and
// compares its boundaries with a parse of the whole stream.
func FuzzFrameTracker(f *testing.F) {
	f.Add(frame(5, false, false), []byte{1, 3})
	f.Add(append(frame(300, true, false), frame(0, false, false)...), []byte{2, 2, 2, 100})
	f.Add(append(frame(70000, false, true), 0x81), []byte{9, 255, 255})
	f.Add([]byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []byte{5})
	f.Fuzz(func(t *testing.T, stream, steps []byte) {
		cuts := make([]int, 0, len(steps))
		pos := 0
		for _, s := range steps {
			pos += int(s)
			cuts = append(cuts, pos)
		}
		checkTracker(t, stream, cuts)
	})
}
