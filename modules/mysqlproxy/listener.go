package mysqlproxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// listeners holds one socket per listen address across config generations.
// A reload provisions and starts the new config before it stops the old one,
// so the address is acquired twice for a moment and its socket stays open:
// connection attempts queued on it are handed to whichever server is current
// when they are accepted, never reset.
var listeners = caddy.NewUsagePool()

// sharedListener is a listening socket with one accept loop that hands each
// connection to the server currently serving the address.
type sharedListener struct {
	key string
	ln  net.Listener
	// server is the server in force among those of the started configs.
	server  atomic.Pointer[Server]
	servers committed[*Server]
	done    chan struct{}
	// wait sees the accept loop end in Destruct.
	wait sync.WaitGroup
}

// acquireListener returns the shared socket for key, opening it if no config
// serves that address yet.
func acquireListener(key string, na caddy.NetworkAddress) (*sharedListener, error) {
	val, _, err := listeners.LoadOrNew(key, func() (caddy.Destructor, error) {
		ln, err := na.Listen(context.Background(), 0, net.ListenConfig{})
		if err != nil {
			return nil, err
		}
		netLn, ok := ln.(net.Listener)
		if !ok {
			ln.(interface{ Close() error }).Close()
			return nil, errors.New("not a stream listener")
		}
		l := &sharedListener{key: key, ln: netLn, done: make(chan struct{})}
		l.servers.apply = l.server.Store
		l.wait.Add(1)
		go l.acceptLoop()
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(*sharedListener), nil
}

// serveWith makes s the server that gets new connections.
func (l *sharedListener) serveWith(s *Server) { l.servers.commit(s, s) }

// release gives up s's use of the listener: the server of the newest
// config still started gets new connections again (the running config's,
// when Caddy stops a new config that failed to start); the socket closes
// when no config uses it any more.
func (l *sharedListener) release(s *Server) {
	l.servers.withdraw(s)
	listeners.Delete(l.key)
}

func (l *sharedListener) acceptLoop() {
	defer l.wait.Done()
	var backoff time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			// Out of file descriptors and the like: wait and try again.
			backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s := l.server.Load()
		if s == nil {
			// Between configs with no server for this address; refuse kindly.
			go refuse(conn, errReloading)
			continue
		}
		go s.serve(conn)
	}
}

// Destruct closes the socket when the last config using it has stopped.
func (l *sharedListener) Destruct() error {
	close(l.done)
	err := l.ln.Close()
	l.wait.Wait()
	return err
}

var _ caddy.Destructor = (*sharedListener)(nil)
