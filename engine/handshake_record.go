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
	// after the other (ends says where each ends), then the headers, one
	// entry per header value (see appendHeader).
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

func newHandshakeRecord(r *http.Request) handshakeRecord {
	target := r.URL.String()
	fields := [recordFields]string{recordMethod: r.Method, recordTarget: target, recordProto: r.Proto, recordHost: r.Host, recordRemoteAddr: r.RemoteAddr}
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += 1 + len(k) + len(v) + 2*binary.MaxVarintLen64
		}
	}
	h := handshakeRecord{tls: r.TLS}
	b := make([]byte, 0, n)
	for i, f := range fields {
		b = append(b, f...)
		h.ends[i] = uint32(len(b))
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			b = appendHeader(b, k, v)
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
		k, v, rest = nextHeader(rest)
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

// A header value in a record is one tag byte, then what the tag leaves
// out: the name and the value (headerLiteral), the value (a tag naming one
// of headerNames), or nothing (a tag naming one of headerLines). Most of a
// handshake's headers are the same on every connection (a WebSocket
// handshake's Upgrade, Connection and Sec-WebSocket-Version; a browser's
// Accept-Encoding and Sec-Fetch-*), and every session keeps its record for
// its whole life: the tables take 60 to 100 bytes off each, as HPACK's
// static table does for HTTP/2 (RFC 7541, appendix A). The tables may only
// grow at their ends: a record is never read by another build, but a
// reordering would be a silent change of meaning.
const (
	headerLiteral   = 0
	headerNameTags  = 1  // headerNames[i] is tag headerNameTags+i
	headerLineTags  = 64 // headerLines[i] is tag headerLineTags+i
	headerTagsLimit = 128
)

// headerNames are common header names, in canonical form (as http.Header
// keys them).
var headerNames = [...]string{
	"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
	"Connection", "Content-Length", "Content-Type", "Cookie", "Origin", "Pragma", "Referer",
	"Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Fetch-Dest", "Sec-Fetch-Mode",
	"Sec-Fetch-Site", "Sec-Websocket-Extensions", "Sec-Websocket-Key", "Sec-Websocket-Protocol",
	"Sec-Websocket-Version", "Upgrade", "User-Agent", "X-Forwarded-For", "X-Forwarded-Host",
	"X-Forwarded-Proto", "X-Real-Ip",
}

// headerLines are common header values with their names.
var headerLines = [...][2]string{
	{"Upgrade", "websocket"},
	{"Connection", "Upgrade"},
	{"Connection", "keep-alive, Upgrade"}, // Firefox
	{"Connection", "keep-alive"},
	{"Sec-Websocket-Version", "13"},
	{"Sec-Websocket-Extensions", "permessage-deflate; client_max_window_bits"},
	{"Pragma", "no-cache"},
	{"Cache-Control", "no-cache"},
	{"Accept", "*/*"},
	{"Accept-Encoding", "gzip, deflate, br, zstd"},
	{"Accept-Encoding", "gzip, deflate, br"},
	{"Accept-Encoding", "gzip, deflate"},
	{"Accept-Encoding", "gzip"},
	{"Sec-Fetch-Dest", "empty"},
	{"Sec-Fetch-Dest", "websocket"},
	{"Sec-Fetch-Mode", "websocket"},
	{"Sec-Fetch-Mode", "cors"},
	{"Sec-Fetch-Site", "same-origin"},
	{"Sec-Fetch-Site", "same-site"},
	{"Sec-Fetch-Site", "cross-site"},
	{"Sec-Ch-Ua-Mobile", "?0"},
	{"X-Forwarded-Proto", "https"},
	{"X-Forwarded-Proto", "http"},
	{"User-Agent", "Go-http-client/1.1"},
	{"User-Agent", "node"},
}

// The tables fit their tag ranges (a negative array length fails the
// build otherwise).
var (
	_ [headerLineTags - headerNameTags - len(headerNames)]struct{}
	_ [headerTagsLimit - headerLineTags - len(headerLines)]struct{}
)

// headerNameTag and headerLineTag map the tables' entries to their tags.
var headerNameTag, headerLineTag = func() (map[string]byte, map[[2]string]byte) {
	names := make(map[string]byte, len(headerNames))
	for i, n := range headerNames {
		names[n] = byte(headerNameTags + i)
	}
	lines := make(map[[2]string]byte, len(headerLines))
	for i, l := range headerLines {
		lines[l] = byte(headerLineTags + i)
	}
	return names, lines
}()

// appendHeader appends one header value, as nextHeader reads it.
func appendHeader(b []byte, name, value string) []byte {
	if tag, ok := headerLineTag[[2]string{name, value}]; ok {
		return append(b, tag)
	}
	if tag, ok := headerNameTag[name]; ok {
		return appendField(append(b, tag), value)
	}
	return appendField(appendField(append(b, headerLiteral), name), value)
}

// nextHeader splits the first header value off the headers of a record.
func nextHeader(s string) (name, value, rest string) {
	tag, rest := s[0], s[1:]
	switch {
	case tag >= headerLineTags && int(tag-headerLineTags) < len(headerLines):
		l := headerLines[tag-headerLineTags]
		return l[0], l[1], rest
	case tag >= headerNameTags && int(tag-headerNameTags) < len(headerNames):
		value, rest = nextField(rest)
		return headerNames[tag-headerNameTags], value, rest
	default: // headerLiteral: anything else cannot happen, the record wrote it
		name, rest = nextField(rest)
		value, rest = nextField(rest)
		return name, value, rest
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
