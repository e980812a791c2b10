package engine

// Goroutines that write to or read from a connection (the flusher, a
// reader started by the poller) are short-lived, so they start on a small
// stack, and the calls under them (the WebSocket's frames, net, a
// message's delivery into the application) need more. Growing a stack deep in such a chain copies
// it and adjusts every frame on the way; the CPU profile of an echo showed
// that at 7% of the server's time. growStack grows it once, at the top,
// where there is nothing to adjust.

// stackHint is what such a goroutine uses, with room to spare.
const stackHint = 6 << 10

// stackIndex keeps the compiler from folding growStack's read away.
var stackIndex = 0

//go:noinline
func growStack() byte {
	var pad [stackHint]byte
	return pad[stackIndex]
}
