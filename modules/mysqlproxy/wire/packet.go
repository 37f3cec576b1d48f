package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

const (
	// MaxChunk is the largest payload one physical packet carries (16 MiB - 1).
	// Longer logical packets are split into chunks of MaxChunk bytes followed
	// by a shorter (possibly empty) final chunk.
	MaxChunk = 1<<24 - 1

	// HeaderSize is the size of a physical packet header: a 3-byte
	// little-endian payload length and a 1-byte sequence id.
	HeaderSize = 4

	// DefaultMaxPayload is the default Conn.MaxPayload: 64 MiB, MySQL 8's
	// default max_allowed_packet.
	DefaultMaxPayload = 64 << 20

	// PrefixSize is the number of leading payload bytes PacketHead.Prefix holds
	// at most; enough for any OK or EOF header up to the status flags.
	PrefixSize = 32

	// retainBuffer is the largest read buffer a Conn keeps between packets.
	retainBuffer = 1 << 20
)

// ErrPacketTooLarge is returned (wrapped) by ReadPacket when a logical packet
// exceeds Conn.MaxPayload.
var ErrPacketTooLarge = errors.New("mysql packet: payload exceeds the maximum")

// SequenceError reports a packet whose sequence id is not the expected one.
type SequenceError struct {
	Got, Want uint8
}

// Error implements error.
func (e *SequenceError) Error() string {
	return fmt.Sprintf("mysql packet: sequence id %d, want %d", e.Got, e.Want)
}

// PacketHead describes the next logical packet, as returned by Conn.PeekPacket.
type PacketHead struct {
	// Length is the payload length of the first chunk. Length == MaxChunk
	// means the logical packet continues in further chunks and is at least
	// MaxChunk bytes long.
	Length int
	// Seq is the sequence id of the first chunk.
	Seq uint8
	// Prefix holds the first min(Length, PrefixSize) payload bytes. It points
	// into the reader's buffer and is valid only until the next read.
	Prefix []byte
}

// Conn frames MySQL packets over a buffered reader and writer. It keeps one
// sequence counter for both directions, as the protocol does: every packet
// read must carry the expected id, and every packet written is stamped with
// it; both advance the counter. Reset it with ResetSeq before each command.
//
// A Conn does no I/O buffering of its own and allocates nothing per packet on
// the relay path. It is not safe for concurrent use.
type Conn struct {
	// MaxPayload is the largest logical payload ReadPacket accepts. Relayed
	// packets are not limited, since relaying needs no memory per packet.
	MaxPayload int

	r   *bufio.Reader
	w   *bufio.Writer
	seq uint8

	// State of a packet whose header was read but whose payload was not yet
	// consumed: the bytes left in the current chunk and whether another
	// chunk follows it.
	pending bool
	left    int
	more    bool
	head    PacketHead

	hdr [HeaderSize]byte // read and write header scratch
	buf []byte           // reassembly buffer reused by ReadPacket
}

// NewConn returns a Conn reading from r and writing to w. Either may be nil
// for a Conn used in one direction only.
func NewConn(r *bufio.Reader, w *bufio.Writer) *Conn {
	return &Conn{MaxPayload: DefaultMaxPayload, r: r, w: w}
}

// Seq returns the sequence id the next packet read or written must carry.
func (c *Conn) Seq() uint8 { return c.seq }

// SetSeq sets the sequence id of the next packet read or written. Use it to
// renumber when the proxy injects or drops packets within an exchange.
func (c *Conn) SetSeq(seq uint8) { c.seq = seq }

// ResetSeq starts a new exchange: the next packet carries sequence id 0.
func (c *Conn) ResetSeq() { c.seq = 0 }

// Reader returns the underlying buffered reader.
func (c *Conn) Reader() *bufio.Reader { return c.r }

// Writer returns the underlying buffered writer.
func (c *Conn) Writer() *bufio.Writer { return c.w }

// Flush writes any buffered data to the underlying writer.
func (c *Conn) Flush() error { return c.w.Flush() }

// readHeader reads one physical header, validates its sequence id and returns
// the chunk's payload length. A clean end of stream before the header is
// reported as io.EOF.
func (c *Conn) readHeader() (int, uint8, error) {
	if _, err := io.ReadFull(c.r, c.hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, 0, fmt.Errorf("mysql packet: truncated header: %w", err)
		}
		return 0, 0, err
	}
	n := int(c.hdr[0]) | int(c.hdr[1])<<8 | int(c.hdr[2])<<16
	seq := c.hdr[3]
	if seq != c.seq {
		return 0, 0, &SequenceError{Got: seq, Want: c.seq}
	}
	c.seq++
	return n, seq, nil
}

// begin reads the header of the next logical packet unless one is pending.
func (c *Conn) begin() error {
	if c.pending {
		return nil
	}
	n, seq, err := c.readHeader()
	if err != nil {
		return err
	}
	c.pending, c.left, c.more = true, n, n == MaxChunk
	c.head = PacketHead{Length: n, Seq: seq}
	return nil
}

// nextChunk reads the header of the chunk that continues the current packet.
func (c *Conn) nextChunk() error {
	n, _, err := c.readHeader()
	if err != nil {
		c.pending = false
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("mysql packet: continuation chunk: %w", err)
	}
	c.left, c.more = n, n == MaxChunk
	return nil
}

func (c *Conn) payloadErr(err error) error {
	c.pending = false
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("mysql packet: truncated payload: %w", err)
}

// PeekPacket reads the header of the next logical packet and returns its
// first-chunk length, sequence id and payload prefix without consuming the
// payload. Follow it with exactly one of ReadPacket, RelayPacket or
// DiscardPacket. Calling PeekPacket again before that returns the same head.
func (c *Conn) PeekPacket() (PacketHead, error) {
	if err := c.begin(); err != nil {
		return PacketHead{}, err
	}
	n := min(c.left, PrefixSize, c.r.Size())
	p, err := c.r.Peek(n)
	if err != nil {
		return PacketHead{}, c.payloadErr(err)
	}
	c.head.Prefix = p
	return c.head, nil
}

// ReadPacket reads a whole logical packet, reassembling chunks, and returns
// its payload. The slice is reused by the next ReadPacket call. Packets longer
// than MaxPayload are consumed and discarded, and the error wraps
// ErrPacketTooLarge; the connection stays usable. Any other error (including a
// SequenceError) leaves the stream at an unknown position: close the
// connection.
func (c *Conn) ReadPacket() ([]byte, error) {
	if cap(c.buf) > retainBuffer {
		c.buf = nil
	}
	if err := c.begin(); err != nil {
		return nil, err
	}
	buf := c.buf[:0]
	for {
		if len(buf)+c.left > c.MaxPayload {
			total := len(buf) + c.left
			if err := c.DiscardPacket(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: at least %d bytes, max %d", ErrPacketTooLarge, total, c.MaxPayload)
		}
		off := len(buf)
		buf = grow(buf, c.left)
		if _, err := io.ReadFull(c.r, buf[off:]); err != nil {
			c.buf = buf[:0]
			return nil, c.payloadErr(err)
		}
		c.left = 0
		if !c.more {
			break
		}
		if err := c.nextChunk(); err != nil {
			c.buf = buf[:0]
			return nil, err
		}
	}
	c.buf = buf
	c.pending = false
	return buf, nil
}

// grow extends b by n bytes, reallocating with headroom when needed.
func grow(b []byte, n int) []byte {
	if need := len(b) + n; need > cap(b) {
		nb := make([]byte, len(b), max(need, 2*cap(b), 64))
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// DiscardPacket skips the rest of the current (or next) logical packet.
func (c *Conn) DiscardPacket() error {
	if err := c.begin(); err != nil {
		return err
	}
	for {
		if _, err := c.r.Discard(c.left); err != nil {
			return c.payloadErr(err)
		}
		c.left = 0
		if !c.more {
			break
		}
		if err := c.nextChunk(); err != nil {
			return err
		}
	}
	c.pending = false
	return nil
}

// RelayPacket copies the current (or next) logical packet to dst chunk by
// chunk, without reassembling it: memory use is bounded by the two bufio
// buffers whatever the packet size. Each chunk is written with dst's sequence
// counter, so the packet is renumbered for dst's exchange; when both
// counters agree the bytes written equal the bytes read.
func (c *Conn) RelayPacket(dst *Conn) error {
	if err := c.begin(); err != nil {
		return err
	}
	for {
		if err := dst.writeHeader(c.left); err != nil {
			c.pending = false
			return err
		}
		for c.left > 0 {
			n := c.r.Buffered()
			if n == 0 {
				// Fill the buffer with whatever one read returns.
				if _, err := c.r.Peek(1); err != nil {
					return c.payloadErr(err)
				}
				n = c.r.Buffered()
			}
			n = min(n, c.left)
			p, _ := c.r.Peek(n) // n bytes are buffered: cannot fail
			if _, err := dst.w.Write(p); err != nil {
				c.pending = false
				return fmt.Errorf("mysql packet: relay: %w", err)
			}
			_, _ = c.r.Discard(n) // n bytes are buffered: cannot fail
			c.left -= n
		}
		if !c.more {
			break
		}
		if err := c.nextChunk(); err != nil {
			return err
		}
	}
	c.pending = false
	return nil
}

// writeHeader writes a physical header for a chunk of n bytes with the
// current sequence id and advances it.
func (c *Conn) writeHeader(n int) error {
	c.hdr = [HeaderSize]byte{byte(n), byte(n >> 8), byte(n >> 16), c.seq}
	c.seq++
	if _, err := c.w.Write(c.hdr[:]); err != nil {
		return fmt.Errorf("mysql packet: write header: %w", err)
	}
	return nil
}

// WritePacket writes payload as one logical packet, splitting it into
// MaxChunk-sized chunks (with a trailing empty chunk when its length is a
// multiple of MaxChunk). The data stays in the writer's buffer until Flush or
// until the buffer fills.
func (c *Conn) WritePacket(payload []byte) error {
	for {
		n := min(len(payload), MaxChunk)
		if err := c.writeHeader(n); err != nil {
			return err
		}
		if _, err := c.w.Write(payload[:n]); err != nil {
			return fmt.Errorf("mysql packet: write payload: %w", err)
		}
		payload = payload[n:]
		if n < MaxChunk {
			return nil
		}
	}
}

// WriteAndFlush writes one packet and flushes it to the connection: a
// packet that ends the writer's turn in the exchange.
func (c *Conn) WriteAndFlush(payload []byte) error {
	if err := c.WritePacket(payload); err != nil {
		return err
	}
	return c.Flush()
}

// AppendPacket appends payload to b framed as one logical packet whose first
// chunk carries sequence id seq. It returns the extended slice and the
// sequence id that follows the last chunk.
func AppendPacket(b, payload []byte, seq uint8) ([]byte, uint8) {
	for {
		n := min(len(payload), MaxChunk)
		b = append(b, byte(n), byte(n>>8), byte(n>>16), seq)
		b = append(b, payload[:n]...)
		seq++
		payload = payload[n:]
		if n < MaxChunk {
			return b, seq
		}
	}
}

// Renumber rewrites, in place, the sequence ids of the framed packets in
// frames so that they run consecutively from first. It returns the id that
// follows the last packet, or an error if frames does not end on a packet
// boundary.
func Renumber(frames []byte, first uint8) (uint8, error) {
	seq := first
	for off := 0; off < len(frames); {
		if len(frames)-off < HeaderSize {
			return seq, fmt.Errorf("mysql packet: renumber: truncated header at offset %d", off)
		}
		n := int(frames[off]) | int(frames[off+1])<<8 | int(frames[off+2])<<16
		frames[off+3] = seq
		seq++
		off += HeaderSize
		if n > len(frames)-off {
			return seq, fmt.Errorf("mysql packet: renumber: payload of %d bytes at offset %d, have %d", n, off, len(frames)-off)
		}
		off += n
	}
	return seq, nil
}
