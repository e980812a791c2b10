package engine

import (
	"crypto/tls"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
)

// handshakeRecord is what a session keeps of its handshake request, for
// Session.Request. A parsed request holds a header map and a URL (a
// kilobyte or more for a browser's request) that the session would carry
// for its whole life to serve a handful of reads at connect time; the
// record keeps the same facts as a few strings and rebuilds the request
// when asked.
type handshakeRecord struct {
	method     string
	target     string // r.URL as the handler saw it (after any rewrite)
	proto      string
	host       string
	remoteAddr string
	header     string // key and value per header value, each length-prefixed (any byte may occur)
	tls        *tls.ConnectionState
}

func newHandshakeRecord(r *http.Request) *handshakeRecord {
	n := 0
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 2*binary.MaxVarintLen16
		}
	}
	b := make([]byte, 0, n)
	for k, vs := range r.Header {
		for _, v := range vs {
			b = appendField(b, k)
			b = appendField(b, v)
		}
	}
	return &handshakeRecord{
		method:     ownString(r.Method),
		target:     r.URL.String(),
		proto:      ownString(r.Proto),
		host:       r.Host,
		remoteAddr: r.RemoteAddr,
		header:     string(b),
		tls:        r.TLS,
	}
}

// request rebuilds the request, without body or context.
func (h *handshakeRecord) request() *http.Request {
	u, err := url.Parse(h.target)
	if err != nil {
		u = &url.URL{} // cannot happen: target came from a parsed URL
	}
	header := make(http.Header)
	for rest := h.header; rest != ""; {
		var k, v string
		k, rest = nextField(rest)
		v, rest = nextField(rest)
		header[k] = append(header[k], v)
	}
	major, minor, _ := http.ParseHTTPVersion(h.proto)
	return &http.Request{
		Method:     h.method,
		URL:        u,
		Proto:      h.proto,
		ProtoMajor: major,
		ProtoMinor: minor,
		Header:     header,
		Body:       http.NoBody,
		Host:       h.host,
		RemoteAddr: h.remoteAddr,
		RequestURI: u.RequestURI(),
		TLS:        h.tls,
	}
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// nextField splits the first field off an encoding of appendField's.
func nextField(s string) (field, rest string) {
	n, w := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
	if w <= 0 || uint64(len(s)-w) < n {
		return "", "" // cannot happen: the record wrote it
	}
	return s[w : w+int(n)], s[w+int(n):]
}

// ownString returns s as a string of its own. net/http's Method and Proto
// are slices of the request line, which would otherwise stay in memory
// with them; the usual values are constants.
func ownString(s string) string {
	switch s {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/1.0":
		return "HTTP/1.0"
	case "HTTP/2.0":
		return "HTTP/2.0"
	case "HTTP/3.0":
		return "HTTP/3.0"
	}
	return strings.Clone(s)
}
