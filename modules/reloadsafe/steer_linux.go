package reloadsafe

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// steerProgram is a classic BPF program for a SO_REUSEPORT group that
// returns 0: the kernel queues every new connection on the group's socket
// at index 0. Linux appends a socket that joins the group and moves the
// last one into the place of one that leaves, so the first socket (the
// anchor) keeps index 0 for as long as it is open.
var steerProgram = []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}

// steer attaches steerProgram to the SO_REUSEPORT group of the listening
// socket anchor, the first socket of its group. Go opens listeners as
// MPTCP sockets where the kernel has MPTCP, and those refuse the option,
// so the program goes in through a plain TCP socket that joins the group
// for the purpose: the returned helper. The program outlives it (it
// belongs to the group). The helper may have been given connections in
// the instant before the program was attached; the caller accepts them,
// then closes it.
func steer(anchor *net.TCPListener) (helper net.Listener, err error) {
	lc := net.ListenConfig{Control: func(_, _ string, raw syscall.RawConn) error {
		var serr error
		err := raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	lc.SetMultipathTCP(false)
	addr := anchor.Addr().String()
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("joining the SO_REUSEPORT group of %s: %w", addr, err)
	}
	raw, err := ln.(*net.TCPListener).SyscallConn()
	if err == nil {
		var serr error
		err = raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF,
				&unix.SockFprog{Len: uint16(len(steerProgram)), Filter: &steerProgram[0]})
		})
		if err == nil {
			err = serr
		}
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("steering connections of %s to its first socket: %w", addr, err)
	}
	return ln, nil
}
