//go:build !unix

package caddysocketio

// cpuTime is unknown here: the cpu-ns/op metric reads 0.
func cpuTime() int64 { return 0 }
