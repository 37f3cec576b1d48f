//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package mysqlproxy

import (
	"syscall"
	"unsafe"
)

// The raw socket calls of socketio.go, on the platforms that have them.

// rawSocketCalls says that this platform makes socketIO's raw calls.
const rawSocketCalls = true

const (
	sysRead  = syscall.SYS_READ
	sysWrite = syscall.SYS_WRITE
)

// rawReadWrite makes one read or write system call on fd, without telling
// the scheduler.
func rawReadWrite(sysno, fd uintptr, buf []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall(sysno, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return int(r), e
}

// peekSocket looks at what fd has to read without taking it or waiting.
func peekSocket(fd uintptr, buf []byte) error {
	_, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err
}
