//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package mysqlproxy

import "syscall"

// Platforms without the raw socket calls of socketio_raw.go (Windows, ...)
// use Go's own socket calls: newSocketIO hands back the connection itself,
// so socketIO's raw calls are never made here.

const rawSocketCalls = false

const sysRead, sysWrite = 0, 1

func rawReadWrite(sysno, fd uintptr, buf []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }

func peekSocket(fd uintptr, buf []byte) error { return syscall.EINVAL }
