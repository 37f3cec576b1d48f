package wire

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"testing"
)

// pattern returns n bytes of deterministic, non-repeating-looking data.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func readerConn(b []byte) *Conn {
	return NewConn(bufio.NewReader(bytes.NewReader(b)), nil)
}

func TestWritePacketFraming(t *testing.T) {
	for _, size := range []int{0, 1, 100, 4096} {
		var out bytes.Buffer
		c := NewConn(nil, bufio.NewWriter(&out))
		c.SetSeq(7)
		p := pattern(size)
		if err := c.WritePacket(p); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		want, next := AppendPacket(nil, p, 7)
		if !bytes.Equal(out.Bytes(), want) || c.Seq() != next || next != 8 {
			t.Errorf("size %d: wrote %x (seq now %d), want %x (seq %d)", size, out.Bytes()[:4], c.Seq(), want[:4], next)
		}
	}
}

// TestSplitAndReassemble writes payloads around multiples of MaxChunk
// through a pipe and reads them back whole.
func TestSplitAndReassemble(t *testing.T) {
	if testing.Short() {
		t.Skip("moves about 100 MiB")
	}
	big := pattern(2*MaxChunk + 10)
	sizes := []int{MaxChunk - 1, MaxChunk, MaxChunk + 1, 2 * MaxChunk, 2*MaxChunk + 10}
	wantSeq := []uint8{1, 2, 2, 3, 3}
	pr, pw := io.Pipe()
	go func() {
		w := NewConn(nil, bufio.NewWriter(pw))
		for _, n := range sizes {
			w.ResetSeq()
			if err := w.WritePacket(big[:n]); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(w.Flush())
	}()
	r := NewConn(bufio.NewReader(pr), nil)
	for i, n := range sizes {
		r.ResetSeq()
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if len(p) != n || !bytes.Equal(p, big[:n]) {
			t.Fatalf("size %d: read %d bytes, content equal %v", n, len(p), bytes.Equal(p, big[:len(p)]))
		}
		if r.Seq() != wantSeq[i] {
			t.Errorf("size %d: %d chunks, want %d", n, r.Seq(), wantSeq[i])
		}
	}
	if _, err := r.ReadPacket(); err != io.EOF {
		t.Errorf("after last packet: %v, want io.EOF", err)
	}
}

func TestAppendPacketExactMultiple(t *testing.T) {
	b, next := AppendPacket(nil, make([]byte, MaxChunk), 0)
	if next != 2 || len(b) != MaxChunk+2*HeaderSize {
		t.Fatalf("next=%d len=%d", next, len(b))
	}
	if tail := b[len(b)-HeaderSize:]; !bytes.Equal(tail, []byte{0, 0, 0, 1}) {
		t.Errorf("trailing empty chunk header %x", tail)
	}
}

func TestSequenceMismatch(t *testing.T) {
	stream, _ := AppendPacket(nil, []byte{ComPing}, 3)
	c := readerConn(stream)
	_, err := c.ReadPacket()
	var se *SequenceError
	if !errors.As(err, &se) || se.Got != 3 || se.Want != 0 {
		t.Fatalf("err = %v, want sequence error got 3 want 0", err)
	}
	if err.Error() != "mysql packet: sequence id 3, want 0" {
		t.Errorf("message %q", err)
	}

	// A continuation chunk with a wrong id is caught too.
	stream, _ = AppendPacket(nil, make([]byte, MaxChunk+5), 0)
	stream[HeaderSize+MaxChunk+3] = 9
	c = readerConn(stream)
	if _, err := c.ReadPacket(); !errors.As(err, &se) || se.Got != 9 || se.Want != 1 {
		t.Fatalf("continuation: err = %v", err)
	}
}

func TestMaxPayload(t *testing.T) {
	var stream []byte
	stream, _ = AppendPacket(stream, pattern(100), 0)
	stream, _ = AppendPacket(stream, []byte("ok"), 1)
	c := readerConn(stream)
	c.MaxPayload = 50
	if _, err := c.ReadPacket(); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("err = %v, want ErrPacketTooLarge", err)
	}
	// The oversized packet was skipped; the stream stays in sync.
	if p, err := c.ReadPacket(); err != nil || string(p) != "ok" {
		t.Fatalf("next packet %q, %v", p, err)
	}
}

func TestTruncatedStream(t *testing.T) {
	stream, _ := AppendPacket(nil, pattern(100), 0)
	for _, cut := range []int{2, HeaderSize, HeaderSize + 50} {
		c := readerConn(stream[:cut])
		if _, err := c.ReadPacket(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
	if _, err := readerConn(nil).ReadPacket(); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
}

func TestPeekThenReadDiscardRelay(t *testing.T) {
	var stream []byte
	var seq uint8
	payloads := [][]byte{[]byte("\x03SELECT 1"), pattern(10), {}, pattern(PrefixSize + 7)}
	for _, p := range payloads {
		stream, seq = AppendPacket(stream, p, seq)
	}
	c := readerConn(stream)
	var out bytes.Buffer
	dst := NewConn(nil, bufio.NewWriter(&out))

	h, err := c.PeekPacket()
	if err != nil || h.Length != 9 || h.Seq != 0 || string(h.Prefix) != "\x03SELECT 1" {
		t.Fatalf("peek: %+v, %v", h, err)
	}
	if h2, _ := c.PeekPacket(); h2.Length != h.Length || h2.Seq != h.Seq {
		t.Fatalf("second peek differs: %+v", h2)
	}
	if p, err := c.ReadPacket(); err != nil || string(p) != "\x03SELECT 1" {
		t.Fatalf("read after peek: %q, %v", p, err)
	}
	if err := c.DiscardPacket(); err != nil {
		t.Fatal(err)
	}
	if h, err := c.PeekPacket(); err != nil || h.Length != 0 || len(h.Prefix) != 0 {
		t.Fatalf("empty packet peek: %+v, %v", h, err)
	}
	dst.SetSeq(2)
	if err := c.RelayPacket(dst); err != nil {
		t.Fatal(err)
	}
	if h, err := c.PeekPacket(); err != nil || len(h.Prefix) != PrefixSize {
		t.Fatalf("prefix %d bytes, %v", len(h.Prefix), err)
	}
	if err := c.RelayPacket(dst); err != nil {
		t.Fatal(err)
	}
	dst.Flush()
	want, _ := AppendPacket(nil, nil, 2)
	want, _ = AppendPacket(want, payloads[3], 3)
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("relayed %x, want %x", out.Bytes(), want)
	}
}

func TestRelayRenumbers(t *testing.T) {
	stream, _ := AppendPacket(nil, []byte("row"), 5)
	c := readerConn(stream)
	c.SetSeq(5)
	var out bytes.Buffer
	dst := NewConn(nil, bufio.NewWriter(&out))
	dst.SetSeq(1)
	if err := c.RelayPacket(dst); err != nil {
		t.Fatal(err)
	}
	dst.Flush()
	if want, _ := AppendPacket(nil, []byte("row"), 1); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("relayed %x, want %x", out.Bytes(), want)
	}
}

// writeFrames writes a framed packet stream chunk by chunk without building it.
func writeFrames(w io.Writer, payloads [][]byte) {
	var seq uint8
	for _, p := range payloads {
		for {
			n := min(len(p), MaxChunk)
			w.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq})
			w.Write(p[:n])
			seq++
			p = p[n:]
			if n < MaxChunk {
				break
			}
		}
	}
}

// TestRelayLargePacketStreams relays a 32 MiB three-chunk row between two
// small packets and checks that the output equals the input byte for byte
// while the relay allocates far less than the packet size.
func TestRelayLargePacketStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 32 MiB")
	}
	payloads := [][]byte{{1}, pattern(2*MaxChunk + 1000), {0xfe, 0, 0, 2, 0}}
	want := sha256.New()
	writeFrames(want, payloads)

	pr, pw := io.Pipe()
	go func() {
		writeFrames(pw, payloads)
		pw.Close()
	}()
	src := NewConn(bufio.NewReaderSize(pr, 16<<10), nil)
	got := sha256.New()
	dst := NewConn(nil, bufio.NewWriterSize(got, 16<<10))

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range payloads {
		h, err := src.PeekPacket()
		if err != nil {
			t.Fatal(err)
		}
		if err := src.RelayPacket(dst); err != nil {
			t.Fatalf("packet seq %d: %v", h.Seq, err)
		}
	}
	if err := dst.Flush(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("relayed bytes differ from the input")
	}
	if src.Seq() != 5 || dst.Seq() != 5 {
		t.Errorf("seq src %d dst %d, want 5 (5 chunks)", src.Seq(), dst.Seq())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("relay allocated %d bytes for a %d-byte packet", alloc, len(payloads[1]))
	}
}

func TestRenumber(t *testing.T) {
	var frames []byte
	frames, _ = AppendPacket(frames, []byte("a"), 9)
	frames, _ = AppendPacket(frames, []byte("bc"), 200)
	next, err := Renumber(frames, 1)
	if err != nil || next != 3 {
		t.Fatalf("next=%d err=%v", next, err)
	}
	want, s := AppendPacket(nil, []byte("a"), 1)
	want, _ = AppendPacket(want, []byte("bc"), s)
	if !bytes.Equal(frames, want) {
		t.Errorf("renumbered %x, want %x", frames, want)
	}
	if _, err := Renumber(frames[:len(frames)-1], 0); err == nil {
		t.Error("truncated frames: no error")
	}
	if _, err := Renumber(frames[:2], 0); err == nil {
		t.Error("truncated header: no error")
	}
}

func TestReadBufferReleased(t *testing.T) {
	var stream []byte
	stream, _ = AppendPacket(stream, make([]byte, 2*retainBuffer), 0)
	stream, _ = AppendPacket(stream, []byte("x"), 1)
	c := readerConn(stream)
	if _, err := c.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	if p, err := c.ReadPacket(); err != nil || string(p) != "x" || cap(c.buf) > retainBuffer {
		t.Fatalf("%q %v cap %d", p, err, cap(c.buf))
	}
}

func FuzzReadPacket(f *testing.F) {
	seed, _ := AppendPacket(nil, []byte("\x03SELECT 1"), 0)
	seed, _ = AppendPacket(seed, nil, 1)
	f.Add(seed, uint8(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0, 1, 2, 3}, uint8(1))
	f.Add([]byte{1, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		c := NewConn(bufio.NewReaderSize(bytes.NewReader(data), 16), nil)
		c.MaxPayload = 1 << 16
		dst := NewConn(nil, bufio.NewWriter(io.Discard))
		for range 64 {
			var err error
			switch mode % 4 {
			case 0:
				var p []byte
				p, err = c.ReadPacket()
				if err == nil && len(p) > c.MaxPayload {
					t.Fatalf("payload of %d bytes over the maximum", len(p))
				}
			case 1:
				err = c.RelayPacket(dst)
			case 2:
				err = c.DiscardPacket()
			case 3:
				var h PacketHead
				h, err = c.PeekPacket()
				if err == nil && (len(h.Prefix) > h.Length || h.Length > MaxChunk) {
					t.Fatalf("head %+v", h)
				}
				if err == nil {
					err = c.RelayPacket(dst)
				}
			}
			if err != nil {
				return
			}
			mode++
		}
	})
}

// resultStream returns a text result set of rows rows, each with a value of
// valueSize bytes, in the framing of caps.
func resultStream(rows, valueSize int, caps uint64) []byte {
	var b []byte
	var seq uint8 = 1
	b, seq = AppendPacket(b, []byte{2}, seq)
	for _, name := range []string{"id", "name"} {
		b, seq = AppendPacket(b, colPkt(name), seq)
	}
	if caps&ClientDeprecateEOF == 0 {
		b, seq = AppendPacket(b, EOF{Status: StatusAutocommit}.Append(nil), seq)
	}
	row := AppendLenEncString(nil, "12345")
	row = AppendLenEncString(row, pattern(valueSize))
	for range rows {
		b, seq = AppendPacket(b, row, seq)
	}
	if caps&ClientDeprecateEOF == 0 {
		b, _ = AppendPacket(b, EOF{Status: StatusAutocommit}.Append(nil), seq)
	} else {
		ok := OK{Header: HeaderEOF, Status: StatusAutocommit}
		b, _ = AppendPacket(b, ok.Append(nil, caps), seq)
	}
	return b
}

// BenchmarkRelay relays text result sets from one Conn to another through the
// Walker, as the proxy's hot path does: many small rows, and a few rows
// larger than the 16 KiB buffers.
func BenchmarkRelay(b *testing.B) {
	caps := ClientProtocol41 | ClientDeprecateEOF
	for _, bc := range []struct {
		name            string
		rows, valueSize int
	}{
		{"1000rows_100B", 1000, 100},
		{"4rows_1MiB", 4, 1 << 20},
	} {
		b.Run(bc.name, func(b *testing.B) {
			stream := resultStream(bc.rows, bc.valueSize, caps)
			src := bytes.NewReader(stream)
			br := bufio.NewReaderSize(src, 16<<10)
			bw := bufio.NewWriterSize(io.Discard, 16<<10)
			backend, client := NewConn(br, nil), NewConn(nil, bw)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(stream)
				br.Reset(src)
				backend.SetSeq(1)
				client.SetSeq(1)
				w := NewWalker(ShapeQuery, caps)
				for !w.Done() {
					h, err := backend.PeekPacket()
					if err != nil {
						b.Fatal(err)
					}
					if _, err := w.Step(h.Length, h.Prefix); err != nil {
						b.Fatal(err)
					}
					if err := backend.RelayPacket(client); err != nil {
						b.Fatal(err)
					}
				}
				if err := client.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
