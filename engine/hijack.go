package engine

import (
	"bufio"
	"net"
	"net/http"
)

// hijackable lets gorilla's Upgrader (which type-asserts http.Hijacker)
// hijack a ResponseWriter wrapped by middleware: http.ResponseController
// follows Unwrap() down to the server's writer.
type hijackable struct{ http.ResponseWriter }

func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &batchConn{Conn: conn}, brw, nil
}

func (h hijackable) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// invalidHeaderValue reports characters Node's engine.io rejects in an
// Origin header (control characters other than tab, and DEL).
func invalidHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}
