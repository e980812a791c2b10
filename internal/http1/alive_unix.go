//go:build unix

package http1

import (
	"net"
	"syscall"
)

// alive tells whether an idle connection is still open: a peek that does
// not wait finds nothing to read (EAGAIN). A connection the backend closed
// reads as end of file; one it wrote to unasked is no use either.
func alive(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var b [1]byte
	cerr := rc.Control(func(fd uintptr) {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	})
	return cerr == nil && ok
}
