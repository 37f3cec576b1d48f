package mysqlproxy

import (
	"bufio"
	"net"
	"sync"
	"time"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// greetings caches, per cluster (its first backend), what a handshake said: the
// version string and capabilities the proxy shows its clients, so that
// client libraries that sniff the version see the real server.
var greetings sync.Map // backendAddr.String() -> greeting

// greeting returns what to tell clients about the server, asking the
// primary (or else a replica) the first time.
func (srv *Server) greeting() greeting {
	key := srv.nodes[0].key
	if g, ok := greetings.Load(key); ok {
		return g.(greeting)
	}
	for _, n := range srv.nodes {
		if g, err := probeGreeting(n.addr, time.Duration(srv.ConnectTimeout)); err == nil {
			greetings.Store(key, g)
			return g
		}
	}
	return fallbackGreeting
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
