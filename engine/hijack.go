package engine

import (
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// hijackable takes over the connection of a WebSocket handshake that
// acceptWebSocket validated. It sends the 101 response through the
// ResponseWriter chain, then hijacks through http.ResponseController,
// which follows Unwrap() down to the server's writer: middleware that edits
// headers when the response is written (Caddy's `header -Server` is
// deferred that way) then shapes the 101 as it shapes every other
// response; this is how Caddy's reverse proxy upgrades.
type hijackable struct {
	http.ResponseWriter
	r        *http.Request
	cookieID string // the sid to set in the session cookie, on handshakes
	opts     *settings
}

func newHijackable(w http.ResponseWriter, r *http.Request, opts *settings, cookieID string) hijackable {
	return hijackable{ResponseWriter: w, r: r, cookieID: cookieID, opts: opts}
}

// hijack answers 101 and returns the connection; compress: per-message
// deflate is negotiated.
func (h hijackable) hijack(compress bool) (*wsConn, error) {
	hdr := h.Header()
	for _, k := range []string{"Content-Length", "Content-Type", "Transfer-Encoding", "Content-Encoding"} {
		hdr.Del(k) // set by outer middleware for an ordinary response; a 101 has no body
	}
	hdr.Set("Upgrade", "websocket")
	hdr.Set("Connection", "Upgrade")
	hdr.Set("Sec-WebSocket-Accept", acceptKey(h.r.Header.Get("Sec-WebSocket-Key")))
	if compress {
		// No context takeover either way (RFC 7692 7.1.1): each message
		// is compressed on its own, so an idle connection keeps no
		// compression window.
		hdr.Set("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
	}
	if h.cookieID != "" && h.opts.Cookie != nil {
		hdr.Add("Set-Cookie", sessionCookie(h.opts.Cookie, h.cookieID).String())
	}
	rc := http.NewResponseController(h.ResponseWriter)
	h.WriteHeader(http.StatusSwitchingProtocols)
	if err := rc.Flush(); err != nil {
		return nil, err
	}
	conn, brw, err := rc.Hijack()
	if err != nil {
		return nil, err
	}
	// The client may already have sent frames: it had the 101 before the
	// hijack. They are read before the connection's own input.
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		buffered, _ := brw.Reader.Peek(n)
		early = bytes.Clone(buffered)
		_, _ = brw.Reader.Discard(n)
	}
	// Hijacked connections keep the read deadline net/http set for the
	// request (Caddy's read_timeout); a WebSocket lives by its heartbeat.
	_ = conn.SetReadDeadline(time.Time{})
	c := &wsConn{compress: compress}
	c.Conn, c.early = conn, early
	c.raw, _ = rawConnOf(conn)
	_, c.isTLS = conn.(*tls.Conn)
	c.newReadBuffer()
	return c, nil
}

func (h hijackable) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// websocketGUID is RFC 6455's constant for Sec-WebSocket-Accept.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// offersDeflate reports whether the client offers permessage-deflate
// (with whatever parameters: the server's answer, no context takeover
// either way, is one every client must accept, RFC 7692 7.1.1).
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
