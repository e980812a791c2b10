package socketio

import "strconv"

// PacketType is the first character of every Socket.IO packet.
type PacketType byte

// The packet types of the protocol. ConnectError is called ERROR in
// protocol revision 4 (socket.io-client 2.x); the number is the same.
const (
	PacketConnect      PacketType = 0
	PacketDisconnect   PacketType = 1
	PacketEvent        PacketType = 2
	PacketAck          PacketType = 3
	PacketConnectError PacketType = 4
	PacketBinaryEvent  PacketType = 5
	PacketBinaryAck    PacketType = 6
)

func (t PacketType) String() string {
	switch t {
	case PacketConnect:
		return "CONNECT"
	case PacketDisconnect:
		return "DISCONNECT"
	case PacketEvent:
		return "EVENT"
	case PacketAck:
		return "ACK"
	case PacketConnectError:
		return "CONNECT_ERROR"
	case PacketBinaryEvent:
		return "BINARY_EVENT"
	case PacketBinaryAck:
		return "BINARY_ACK"
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// Packet is one Socket.IO packet as an object, before encoding or after
// decoding. Like socket.io-parser, decoding turns BINARY_EVENT into PacketEvent
// and BINARY_ACK into PacketAck once the attachments are in, and encoding picks
// the binary type again when Args carry attachments: code above the codec
// (adapters included) only sees the five other types.
type Packet struct {
	Type      PacketType
	Namespace string // "/" for the main namespace

	// ID is the acknowledgement id, meaningful when HasID is set.
	ID    uint64
	HasID bool

	// EventName and Args are the payload of an Event ([name, ...args] on
	// the wire); Args alone is the payload of an Ack.
	EventName string
	Args      Args

	// Data is the raw JSON payload of Connect (the auth object, or
	// {"sid":..} from the server) and ConnectError; nil when absent.
	Data []byte
}

// reservedEvents are names a client may not emit: they have a meaning on
// one side or the other (socket.io-parser rejects them the same way).
func reservedEvent(name string) bool {
	switch name {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}
