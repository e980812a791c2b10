package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"golang.org/x/net/http/httpguts"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
)

const (
	defaultMaxHeaderBytes = 1 << 20
	defaultMaxBody        = 10 << 20
)

func (p *Pool) readResponse(br *bufio.Reader, method string) (*Response, bool, bool, error) {
	maxHeader := p.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = defaultMaxHeaderBytes
	}
	maxBody := p.MaxBody
	if maxBody <= 0 {
		maxBody = defaultMaxBody
	}
	return readResponse(br, method, maxHeader, maxBody)
}

// errMalformed wraps every answer that is not HTTP/1.x as RFC 9112 has it.
var errMalformed = errors.New("http1: malformed answer")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errMalformed}, args...)...)
}

// readResponse reads one answer to a request of method from br, 1xx
// answers skipped, its body whole up to maxBody bytes. keep tells whether
// the connection may carry another request; read whether any byte came
// (an error without one is a connection closed before answering).
func readResponse(br *bufio.Reader, method string, maxHeader int, maxBody int64) (res *Response, keep, read bool, err error) {
	for informational := 0; ; informational++ {
		res, keep, err = readHead(br, maxHeader)
		if err != nil {
			return nil, false, read || !errors.Is(err, errNothing), err
		}
		read = true
		if res.StatusCode >= 100 && res.StatusCode < 200 {
			if res.StatusCode == http.StatusSwitchingProtocols {
				return nil, false, true, malformed("101 Switching Protocols to a request that asked for none")
			}
			// 100 Continue, 103 Early Hints: the answer follows. A backend
			// sending them without end would hold the caller until its
			// deadline; as net/http, give up after a few.
			if informational == maxInformational {
				return nil, false, true, malformed("more than %d informational (1xx) answers", maxInformational)
			}
			continue
		}
		break
	}
	if method == http.MethodHead || res.StatusCode == http.StatusNoContent || res.StatusCode == http.StatusNotModified {
		return res, keep, true, nil
	}
	te := res.Header["Transfer-Encoding"]
	cl := res.Header["Content-Length"]
	switch {
	case len(te) > 0:
		// RFC 9112 6.3: with Transfer-Encoding, Content-Length means
		// nothing (and is a smuggling attempt when both come); chunked
		// must be the last coding, and the only one this client knows.
		if len(te) != 1 || !asciiEqualFold(te[0], "chunked") {
			return nil, false, true, malformed("Transfer-Encoding %q is not chunked alone", te)
		}
		if len(cl) > 0 {
			return nil, false, true, malformed("both Transfer-Encoding and Content-Length")
		}
		var more bool
		res.Body, more, err = readChunked(br, maxBody, maxHeader)
		if err != nil {
			return nil, false, true, err
		}
		res.Truncated = more
	case len(cl) > 0:
		n, err := contentLength(cl)
		if err != nil {
			return nil, false, true, err
		}
		take := min(n, maxBody)
		res.Body = make([]byte, take)
		if _, err := io.ReadFull(br, res.Body); err != nil {
			return nil, false, true, fmt.Errorf("http1: the answer ended within its %d bytes of body: %w", n, unexpected(err))
		}
		res.Truncated = n > maxBody
	default:
		// No framing: the body runs to the connection's end.
		keep = false
		res.Body, err = io.ReadAll(io.LimitReader(br, maxBody+1))
		if err != nil {
			return nil, false, true, err
		}
		if int64(len(res.Body)) > maxBody {
			res.Body, res.Truncated = res.Body[:maxBody], true
		}
	}
	return res, keep && !res.Truncated, true, nil
}

// maxInformational is how many 1xx answers may come before the answer
// (net/http allows 5).
const maxInformational = 5

// errNothing marks a connection that closed (or failed) before the first
// byte of an answer.
var errNothing = errors.New("http1: the connection closed before any answer")

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// contentLength is the one value of the Content-Length fields (repeats
// must agree, RFC 9110 8.6).
func contentLength(values []string) (int64, error) {
	var n int64 = -1
	for _, v := range values {
		for _, part := range splitComma(v) {
			m, err := strconv.ParseUint(part, 10, 63)
			if err != nil || part == "" || part[0] == '+' {
				return 0, malformed("Content-Length %q", v)
			}
			if n >= 0 && int64(m) != n {
				return 0, malformed("Content-Length values %q disagree", values)
			}
			n = int64(m)
		}
	}
	if n < 0 {
		return 0, malformed("empty Content-Length")
	}
	return n, nil
}

func splitComma(v string) []string {
	var out []string
	for {
		i := bytes.IndexByte([]byte(v), ',')
		part := v
		if i >= 0 {
			part = v[:i]
		}
		out = append(out, trimOWS(part))
		if i < 0 {
			return out
		}
		v = v[i+1:]
	}
}

// readHead reads a status line and header fields. keep is the
// connection's persistence as RFC 9112 9.3 says: HTTP/1.1 unless
// "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
func readHead(br *bufio.Reader, maxHeader int) (*Response, bool, error) {
	left := maxHeader
	line, err := readLine(br, &left, true)
	if err != nil {
		return nil, false, err
	}
	// HTTP/1.x SP 3DIGIT SP reason
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return nil, false, malformed("status line %q", truncate(line))
	}
	code := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return nil, false, malformed("status line %q", truncate(line))
		}
		code = code*10 + int(d-'0')
	}
	if code < 100 {
		return nil, false, malformed("status %d", code)
	}
	minor := int(line[7] - '0')
	res := &Response{StatusCode: code, ProtoMinor: minor, Proto: "HTTP/1.1"}
	if minor == 0 {
		res.Proto = "HTTP/1.0"
	}
	res.Status = string(line[9:])

	// The fields: read into one buffer and made one string, which every
	// name and value is a part of (one allocation for them all).
	var block []byte
	var count int
	for {
		line, err := readLine(br, &left, false)
		if err != nil {
			return nil, false, err
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, false, malformed("obsolete line folding in the header")
		}
		block = append(block, line...)
		block = append(block, '\n')
		count++
	}
	res.Header = make(http.Header, count)
	all := string(block)
	values := make([]string, count)
	keep := minor == 1
	for i := 0; all != ""; i++ {
		nl := indexByte(all, '\n')
		field := all[:nl]
		all = all[nl+1:]
		colon := indexByte(field, ':')
		if colon <= 0 || !httpguts.ValidHeaderFieldName(field[:colon]) {
			return nil, false, malformed("header field %q", truncate([]byte(field)))
		}
		name := textproto.CanonicalMIMEHeaderKey(field[:colon])
		value := trimOWS(field[colon+1:])
		if !validValue(value) {
			return nil, false, malformed("header field %q has control characters", name)
		}
		values[i] = value
		if prev, ok := res.Header[name]; ok {
			res.Header[name] = append(prev, value)
		} else {
			res.Header[name] = values[i : i+1 : i+1]
		}
		if name == "Connection" {
			for _, opt := range splitComma(value) {
				switch {
				case asciiEqualFold(opt, "close"):
					keep = false
				case asciiEqualFold(opt, "keep-alive") && minor == 0:
					keep = true
				}
			}
		}
	}
	if _, ok := res.Header["Connection"]; ok && minor == 0 {
		// HTTP/1.0 keep-alive was set above when asked for; a close wins.
		for _, v := range res.Header["Connection"] {
			for _, opt := range splitComma(v) {
				if asciiEqualFold(opt, "close") {
					keep = false
				}
			}
		}
	}
	return res, keep, nil
}

// readLine reads one line ending in LF (CR LF, or a bare LF as RFC 9112
// allows a recipient to accept) without it, counting it against left.
// first tells that nothing of the answer has come yet: an error then is
// errNothing.
func readLine(br *bufio.Reader, left *int, first bool) ([]byte, error) {
	var long []byte
	for {
		frag, err := br.ReadSlice('\n')
		*left -= len(frag)
		if *left < 0 {
			return nil, malformed("the header is too large")
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			long = append(long, frag...)
			continue
		case first && len(long) == 0 && len(frag) == 0:
			return nil, fmt.Errorf("%w: %w", errNothing, err)
		default:
			return nil, fmt.Errorf("http1: the answer's header was cut: %w", unexpected(err))
		}
		line := frag
		if long != nil {
			line = append(long, frag...)
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return line, nil
	}
}

// readChunked reads a chunked body (RFC 9112 7.1) up to max bytes; more
// tells that it had more (the rest is not read). Chunk extensions and
// trailer fields are read and dropped.
func readChunked(br *bufio.Reader, max int64, maxLine int) (body []byte, more bool, err error) {
	for {
		left := maxLine
		line, err := readLine(br, &left, false)
		if err != nil {
			return nil, false, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimRight(line, " \t")
		if len(line) == 0 || len(line) > 16 {
			return nil, false, malformed("chunk size %q", truncate(line))
		}
		size, err := strconv.ParseUint(string(line), 16, 63)
		if err != nil {
			return nil, false, malformed("chunk size %q", truncate(line))
		}
		if size == 0 {
			break
		}
		n := len(body)
		if int64(n)+int64(size) > max {
			// Fill up to max: the caller sees that there was more.
			body = append(body, make([]byte, max-int64(n))...)
			if _, err := io.ReadFull(br, body[n:]); err != nil {
				return nil, false, fmt.Errorf("http1: the answer ended within a chunk: %w", unexpected(err))
			}
			return body, true, nil
		}
		body = append(body, make([]byte, size)...)
		if _, err := io.ReadFull(br, body[n:]); err != nil {
			return nil, false, fmt.Errorf("http1: the answer ended within a chunk: %w", unexpected(err))
		}
		var crlf [2]byte
		if _, err := io.ReadFull(br, crlf[:1]); err != nil {
			return nil, false, unexpected(err)
		}
		if crlf[0] == '\r' {
			if _, err := io.ReadFull(br, crlf[1:]); err != nil {
				return nil, false, unexpected(err)
			}
			crlf[0] = crlf[1]
		}
		if crlf[0] != '\n' {
			return nil, false, malformed("no CRLF after a chunk's data")
		}
	}
	for { // trailer fields, then the empty line
		left := maxLine
		line, err := readLine(br, &left, false)
		if err != nil {
			return nil, false, err
		}
		if len(line) == 0 {
			break
		}
	}
	if body == nil {
		body = []byte{}
	}
	return body, false, nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
