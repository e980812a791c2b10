//go:build !unix

package engine

// Without the poller (readiness_other.go) no connection is watchable, so
// these are never called.

func readFD(uintptr, []byte) (int, bool) { return 0, true }

func peekFD(uintptr) bool { return true }

func writeFD(uintptr, []byte) int { return 0 }
