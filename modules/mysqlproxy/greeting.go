package mysqlproxy

import (
	"bufio"
	"net"
	"time"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// greeting returns what to tell clients about the server behind the proxy:
// the version string and capabilities of the first backend whose handshake
// the monitor has read (so that client libraries that sniff the version see
// the real server), or a fallback. It never contacts a backend: a client
// that has not logged in costs no backend connection.
func (srv *Server) greeting() greeting {
	for _, n := range srv.nodes {
		if g := n.greeting.Load(); g != nil {
			return *g
		}
	}
	return fallbackGreeting
}

// learnGreeting reads the backend's handshake once, for greeting.
func (n *node) learnGreeting(timeout time.Duration) {
	if n.greeting.Load() != nil {
		return
	}
	if g, err := probeGreeting(n.addr, timeout); err == nil {
		n.greeting.Store(&g)
	}
}

// probeGreeting reads a backend's handshake and hangs up.
func probeGreeting(addr backendAddr, timeout time.Duration) (greeting, error) {
	conn, err := net.DialTimeout(addr.network, addr.address, timeout)
	if err != nil {
		return greeting{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	p, err := wire.NewConn(bufio.NewReader(conn), nil).ReadPacket()
	if err != nil {
		return greeting{}, err
	}
	hs, err := wire.ParseHandshake(p)
	if err != nil {
		return greeting{}, err
	}
	return greeting{version: hs.ServerVersion, caps: hs.Capabilities, charset: hs.Charset}, nil
}
