//go:build !linux

package reloadsafe

import (
	"errors"
	"net"
)

// steer is Linux only (SO_ATTACH_REUSEPORT_CBPF); elsewhere every config
// keeps its own socket.
func steer(*net.TCPListener) (net.Listener, error) { return nil, errors.ErrUnsupported }
