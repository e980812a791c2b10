package socketio

import (
	"errors"
	"sync/atomic"
)

// Event is an event a client emitted, as a handler of Socket.On receives
// it. Args keep the raw JSON: pass them to Emit as they are to send them
// on, or decode them with Args.Decode.
type Event struct {
	Name string
	Args Args

	socket *Socket
	id     uint64
	hasID  bool
	acked  atomic.Bool
}

// Socket is the socket the event came from.
func (e *Event) Socket() *Socket { return e.socket }

// WantsAck tells whether the client passed a callback, which Ack answers.
func (e *Event) WantsAck() bool { return e.hasID }

// errNoAck is returned by Ack when the client expects none or got one.
var errNoAck = errors.New("socketio: the client did not ask for an acknowledgement, or it was already sent")

// Ack answers the client's callback with args (encoded as Emit encodes
// them). Only the first call sends anything, as in Node.
func (e *Event) Ack(args ...any) error {
	if !e.hasID || e.acked.Swap(true) {
		return errNoAck
	}
	a, err := NewArgs(args...)
	if err != nil {
		return err
	}
	return e.socket.packet(&Packet{Type: PacketAck, ID: e.id, HasID: true, Args: a})
}
