package reloadsafe

import (
	"errors"
	"net"
	"reflect"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Caddy gives every config its own SO_REUSEPORT socket on an address, and
// Linux resets the connections queued on a socket when it closes: a client
// that connects during a reload can meet a socket that is about to close.
// The wrapper avoids that at the root: the first socket of an address (the
// anchor) stays open, and keeps accepting for the newest config, for as
// long as any config listens on the address; a socket filter on the port's
// SO_REUSEPORT group (steer) makes the kernel queue every new connection
// on the anchor, so the sockets of later configs never hold one and close
// without resetting anything. Where steering is not available (other
// systems, Unix sockets, a listener below the wrapper other than the
// socket and TLS), each config keeps its own socket and the wrapper only
// delays its close (see lingerThenClose).

// socketGroups holds the steered sockets of every address, by address.
var socketGroups = caddy.NewUsagePool()

// socketGroup is the anchor socket of one address and the connections it
// accepts, which the feeds of every config on the address take from.
type socketGroup struct {
	anchor net.Listener
	// helper is the socket that attached the steering program (see
	// steer); it stays open with the anchor, so that a connection the
	// kernel gave it before the program took effect is accepted too.
	helper   net.Listener
	incoming chan net.Conn // unbuffered: a connection is never stranded in it
	done     chan struct{}
}

// Destruct closes the anchor once no config listens on the address any
// more. Connections the kernel queued on it in that instant are reset:
// the address is gone from the config.
func (g *socketGroup) Destruct() error {
	close(g.done)
	g.helper.Close()
	return g.anchor.Close()
}

// acceptLoop accepts on ln (the anchor or the helper) until it is closed
// and hands every connection to whichever feed takes it first.
func (g *socketGroup) acceptLoop(ln net.Listener) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() && !isTemporary(ne) {
				return
			}
			// Out of file descriptors and the like: wait as net/http's
			// Serve does, then try again.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-g.done:
				return
			}
		}
		backoff = 0
		select {
		case g.incoming <- c:
		case <-g.done:
			c.Close()
			return
		}
	}
}

func isTemporary(ne net.Error) bool {
	return ne.Temporary() //nolint:staticcheck // as net/http's Serve does
}

// feed is one config's view of a steered address: a listener that returns
// the connections the anchor accepts. It stands where the config's own
// socket stood, below TLS if the config has TLS, so every connection gets
// the TLS settings of the config that accepts it.
type feed struct {
	key   string
	group *socketGroup
	// own is the config's own socket; the kernel queues no connection on
	// it, so it closes with the feed. It is nil for the anchor's config,
	// whose socket the group closes.
	own       net.Listener
	done      chan struct{}
	closeOnce sync.Once
}

// Accept returns the next connection the anchor accepted.
func (f *feed) Accept() (net.Conn, error) {
	select {
	case c := <-f.group.incoming:
		return c, nil
	case <-f.done:
		return nil, net.ErrClosed
	}
}

// Close ends the feed; the anchor stays open while other feeds use it.
func (f *feed) Close() error {
	var err error
	f.closeOnce.Do(func() {
		close(f.done)
		if f.own != nil {
			err = f.own.Close()
		}
		_, _ = socketGroups.Delete(f.key)
	})
	return err
}

// Addr returns the address of the anchor.
func (f *feed) Addr() net.Addr { return f.group.anchor.Addr() }

// errNotSocket is why a listener below the wrapper cannot share its socket.
var errNotSocket = errors.New("below the wrapper is neither the socket nor TLS over it")

// shareSocket puts a feed of the steered socket group of ln's address in
// place of ln's socket and returns the listener to accept from: ln with
// the feed below its TLS, or the feed itself. It returns an error when the
// socket cannot be shared: ln is not a TCP socket, or TLS over one, or the
// kernel does not steer (see steer).
func shareSocket(ln net.Listener) (net.Listener, error) {
	socket, replace := belowTLS(ln)
	tcp, ok := tcpSocket(socket)
	if !ok {
		return nil, errNotSocket
	}
	key := "tcp/" + tcp.Addr().String()
	f := &feed{key: key, own: socket, done: make(chan struct{})}
	v, loaded, err := socketGroups.LoadOrNew(key, func() (caddy.Destructor, error) {
		helper, err := steer(tcp)
		if err != nil {
			return nil, err
		}
		g := &socketGroup{anchor: socket, helper: helper, incoming: make(chan net.Conn), done: make(chan struct{})}
		go g.acceptLoop(socket)
		go g.acceptLoop(helper)
		return g, nil
	})
	if err != nil {
		return nil, err
	}
	f.group = v.(*socketGroup)
	if !loaded {
		f.own = nil // the anchor: the group owns it
	}
	if replace == nil {
		return f, nil
	}
	replace(f)
	return ln, nil
}

// belowTLS returns the listener below ln if ln is crypto/tls's listener
// (Caddy's TLS layer, tls.NewListener), and a function that puts another
// listener in its place. Its embedded net.Listener is an exported field of
// an unexported type, which reflection reads and sets without unsafe.
func belowTLS(ln net.Listener) (net.Listener, func(net.Listener)) {
	v := reflect.ValueOf(ln)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return ln, nil
	}
	t := v.Elem().Type()
	if t.PkgPath() != "crypto/tls" || t.Name() != "listener" {
		return ln, nil
	}
	field := v.Elem().FieldByName("Listener")
	if !field.IsValid() || !field.CanSet() || field.Type() != reflect.TypeFor[net.Listener]() {
		return ln, nil
	}
	below, _ := field.Interface().(net.Listener)
	if below == nil {
		return ln, nil
	}
	return below, func(nl net.Listener) { field.Set(reflect.ValueOf(&nl).Elem()) }
}

// tcpSocket returns the TCP socket that ln is: a *net.TCPListener, or
// Caddy's reference-counting wrapper of one (which passes on only
// net.Listener's methods).
func tcpSocket(ln net.Listener) (*net.TCPListener, bool) {
	if tcp, ok := ln.(*net.TCPListener); ok {
		return tcp, true
	}
	v := reflect.ValueOf(ln)
	if v.Kind() != reflect.Struct || v.Type().PkgPath() != "github.com/caddyserver/caddy/v2" || v.Type().Name() != "deleteListener" {
		return nil, false
	}
	field := v.FieldByName("Listener")
	if !field.IsValid() || !field.CanInterface() {
		return nil, false
	}
	tcp, ok := field.Interface().(*net.TCPListener)
	return tcp, ok
}
