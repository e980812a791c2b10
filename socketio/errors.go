package socketio

import "errors"

// ConnectError refuses a connection from a middleware (Namespace.Use). The
// client receives it in its connect_error event: err.message is Message and
// err.data is Data (socket.io-client 2.x receives Data, or Message when Data
// is nil, in its error event). Any other error refuses with its text as
// the message.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// ErrDisconnected is returned for an acknowledgement that cannot come any
// more, because the socket is (or got) disconnected.
var ErrDisconnected = errors.New("socketio: the socket is disconnected")
