package engine

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"time"
)

// hijackable lets gorilla's Upgrader (which type-asserts http.Hijacker)
// hijack a ResponseWriter wrapped by middleware: http.ResponseController
// follows Unwrap() down to the server's writer.
//
// It also sends the 101 response itself, through the ResponseWriter chain,
// before hijacking, and drops the copy gorilla writes to the connection
// afterwards. Middleware that edits headers when the response is written
// (Caddy's `header -Server` is deferred that way) then shapes the 101 as it
// shapes every other response; this is how Caddy's reverse proxy upgrades.
type hijackable struct {
	http.ResponseWriter
	r        *http.Request
	compress bool   // permessage-deflate enabled on the server
	cookieID string // the sid to set in the session cookie, on handshakes
	opts     *settings
}

func newHijackable(w http.ResponseWriter, r *http.Request, opts *settings, cookieID string) hijackable {
	return hijackable{ResponseWriter: w, r: r, compress: opts.PerMessageDeflate, cookieID: cookieID, opts: opts}
}

// Hijack runs once gorilla has validated the upgrade request.
func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hdr := h.Header()
	for _, k := range []string{"Content-Length", "Content-Type", "Transfer-Encoding", "Content-Encoding"} {
		hdr.Del(k) // set by outer middleware for an ordinary response; a 101 has no body
	}
	hdr.Set("Upgrade", "websocket")
	hdr.Set("Connection", "Upgrade")
	hdr.Set("Sec-WebSocket-Accept", acceptKey(h.r.Header.Get("Sec-WebSocket-Key")))
	if h.compress && offersDeflate(h.r.Header) {
		// gorilla negotiates exactly these parameters when it compresses.
		hdr.Set("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
	}
	if h.cookieID != "" && h.opts.Cookie != nil {
		hdr.Add("Set-Cookie", sessionCookie(h.opts.Cookie, h.cookieID).String())
	}
	rc := http.NewResponseController(h.ResponseWriter)
	h.WriteHeader(http.StatusSwitchingProtocols)
	if err := rc.Flush(); err != nil {
		return nil, nil, err
	}
	conn, brw, err := rc.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The client may already have sent frames: it had the 101 before the
	// hijack. gorilla refuses a connection with buffered input (it reads
	// through its own buffer), so hand those bytes over through the conn.
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		buffered, _ := brw.Reader.Peek(n)
		early = bytes.Clone(buffered)
		_, _ = brw.Reader.Discard(n)
	}
	// Hijacked connections keep the read deadline net/http set for the
	// request (Caddy's read_timeout); a WebSocket lives by its heartbeat.
	_ = conn.SetReadDeadline(time.Time{})
	bc := &batchConn{Conn: conn, dropHandshake: true, early: early}
	bc.raw, _ = rawConnOf(conn)
	_, bc.isTLS = conn.(*tls.Conn)
	// gorilla adopts this reader (its ReadBufferSize is 0): the session
	// needs to see what it buffers, see wsinput.go.
	return bc, bufio.NewReadWriter(bc.newReadBuffer(), brw.Writer), nil
}

func (h hijackable) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// websocketGUID is RFC 6455's constant for Sec-WebSocket-Accept.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// offersDeflate reports whether the client offers permessage-deflate, as
// gorilla decides whether to compress.
func offersDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-Websocket-Extensions") {
		for _, ext := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
				return true
			}
		}
	}
	return false
}

// isHandshakeResponse recognises the 101 response gorilla writes after the
// hijack, which hijackable has already sent.
func isHandshakeResponse(p []byte) bool {
	return bytes.HasPrefix(p, []byte("HTTP/1.1 101 "))
}

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
