package engine

import (
	"crypto/tls"
	"encoding/binary"
	"net/http"
	"net/url"
)

// handshakeRecord is what a session keeps of its handshake request, for
// Session.Request. A parsed request holds a header map and a URL (a
// kilobyte or more for a browser's request) that the session would carry
// for its whole life to serve a handful of reads at connect time; the
// record keeps the same facts in one string, allocated once, and rebuilds
// the request when asked. It is kept by every session for its whole
// life, so it is small: one string and where its fields end in it.
type handshakeRecord struct {
	// data is the method, the target (r.URL as the handler saw it, after
	// any rewrite), the protocol, the host and the peer's address, one
	// after the other (ends says where each ends), then the headers: key
	// and value per header value, each length-prefixed (any byte may
	// occur).
	data string
	ends [recordFields]uint32
	tls  *tls.ConnectionState
}

// The fields of a handshakeRecord's data before its headers, in order.
const (
	recordMethod = iota
	recordTarget
	recordProto
	recordHost
	recordRemoteAddr
	recordFields
)

func newHandshakeRecord(r *http.Request) *handshakeRecord {
	target := r.URL.String()
	fields := [recordFields]string{recordMethod: r.Method, recordTarget: target, recordProto: r.Proto, recordHost: r.Host, recordRemoteAddr: r.RemoteAddr}
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 2*binary.MaxVarintLen16
		}
	}
	h := &handshakeRecord{tls: r.TLS}
	b := make([]byte, 0, n)
	for i, f := range fields {
		b = append(b, f...)
		h.ends[i] = uint32(len(b))
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			b = appendField(b, k)
			b = appendField(b, v)
		}
	}
	h.data = string(b)
	return h
}

// field returns one of the fields before the headers.
func (h *handshakeRecord) field(i int) string {
	if h.data == "" {
		return "" // a zero record (tests build sessions with one)
	}
	start := uint32(0)
	if i > 0 {
		start = h.ends[i-1]
	}
	return h.data[start:h.ends[i]]
}

// remoteAddr is the handshake's r.RemoteAddr.
func (h *handshakeRecord) remoteAddr() string { return h.field(recordRemoteAddr) }

// request rebuilds the request, without body or context.
func (h *handshakeRecord) request() *http.Request {
	u, err := url.Parse(h.field(recordTarget))
	if err != nil {
		u = &url.URL{} // cannot happen: target came from a parsed URL
	}
	header := make(http.Header)
	for rest := h.data[h.ends[recordFields-1]:]; rest != ""; {
		var k, v string
		k, rest = nextField(rest)
		v, rest = nextField(rest)
		header[k] = append(header[k], v)
	}
	proto := h.field(recordProto)
	major, minor, _ := http.ParseHTTPVersion(proto)
	return &http.Request{
		Method:     h.field(recordMethod),
		URL:        u,
		Proto:      proto,
		ProtoMajor: major,
		ProtoMinor: minor,
		Header:     header,
		Body:       http.NoBody,
		Host:       h.field(recordHost),
		RemoteAddr: h.remoteAddr(),
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
