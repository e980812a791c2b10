package socketio

import (
	"sync/atomic"

	"go.uber.org/zap"
)

// attachmentDeadline bounds how long a client's binary packet may stay
// incomplete: its text part and the attachments that came are held in
// memory until the last one arrives, and a client that never sends it
// would hold them for as long as it answers pings.
//
// Concurrency: stop and seq are used by the client's message handler and
// its close handler, which the engine never runs concurrently; the timer's
// goroutine reads due only.
type attachmentDeadline struct {
	stop func() bool   // stops the armed timer; nil when none is armed
	seq  uint64        // binary packets begun by this client
	due  atomic.Uint64 // the packet the armed timer is for; 0: none
}

// armAttachmentDeadline starts the deadline of the binary packet whose text
// part just arrived.
func (c *client) armAttachmentDeadline() {
	d := c.attachments
	if d == nil {
		// Allocated with the client's first binary packet: most clients
		// never send one.
		d = new(attachmentDeadline)
		c.attachments = d
	}
	if d.stop != nil {
		d.stop()
	}
	d.seq++
	seq := d.seq
	announced, _ := c.dec.waiting()
	d.due.Store(seq)
	timeout := c.server.opts.AttachmentTimeout
	d.stop = c.server.startTimer(timeout, func() {
		if d.due.Load() != seq {
			return // completed, refused or closed meanwhile
		}
		c.server.logger.Info("socketio: closing a client connection: a binary packet did not get its attachments in time",
			zap.String("remote", c.address()), zap.Int("announced", announced), zap.Duration("waited", timeout))
		c.session.Close()
	})
}

// disarmAttachmentDeadline stops the deadline, if one is armed: the packet
// is complete, refused, or the client is gone.
func (c *client) disarmAttachmentDeadline() {
	d := c.attachments
	if d == nil || d.stop == nil {
		return
	}
	d.due.Store(0)
	d.stop()
	d.stop = nil
}
