//go:build unix

package engine

import "syscall"

// readFD reads what a non-blocking descriptor has; ready is false when it
// has nothing yet (n is then 0). End of stream and errors count as ready:
// the next read through the connection meets them.
func readFD(fd uintptr, buf []byte) (n int, ready bool) {
	for {
		n, err := syscall.Read(int(fd), buf)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, false
		}
		return max(n, 0), true
	}
}

// peekFD reports whether a non-blocking descriptor has input (or an end
// of stream or error to report), leaving it in place.
func peekFD(fd uintptr) (ready bool) {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}

// writeFD writes what a non-blocking descriptor takes of p now: 0 when it
// takes nothing (its buffer is full, or an error the next write meets).
func writeFD(fd uintptr, p []byte) int {
	for {
		n, err := syscall.Write(int(fd), p)
		if err == syscall.EINTR {
			continue
		}
		return max(n, 0)
	}
}
