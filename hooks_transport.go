package caddysocketio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// hookTransport carries hook requests through a Caddy handler chain (the
// hooks block's reverse_proxy, php_fastcgi, ...) the way forward_auth runs
// reverse_proxy: the request never leaves the process as such; the handler
// makes its own connection to the backend, with its load balancing, health
// checks, TLS and FastCGI.
type hookTransport struct {
	handler caddyhttp.MiddlewareHandler
	server  *caddyhttp.Server
	limit   int64 // the largest answer body the hooks package accepts
}

func newHookTransport(handler caddyhttp.MiddlewareHandler, server *caddyhttp.Server, limit int64) *hookTransport {
	if server == nil {
		// reverse_proxy and fastcgi read the server from every request
		// (for its log settings); a zero one logs no credentials, which
		// is what hook requests (with forwarded cookies) want anyway.
		server = new(caddyhttp.Server)
	}
	return &hookTransport{handler: handler, server: server, limit: limit}
}

// errNoAnswer is what a hooks block whose handlers all pass the request on
// (a matcher that matched nothing) gives.
var errNoAnswer = errors.New("no handler of the hooks block answered the request; check that its reverse_proxy or php_fastcgi applies to every path under path_prefix")

// RoundTrip runs the handler chain on req as on a request Caddy received:
// with a fresh replacer, vars and original-request record (which
// php_fastcgi reads for REQUEST_URI), and a response recorder that keeps at
// most limit+1 bytes of the body, so that the hooks package can tell a too
// large answer from a full one without Caddy holding more.
func (t *hookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.RequestURI = r.URL.RequestURI()
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	// The request comes from Caddy itself; reverse_proxy adds this address
	// to X-Forwarded-For, fastcgi passes it as REMOTE_ADDR.
	r.RemoteAddr = "127.0.0.1:0"
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := &answerRecorder{header: http.Header{}, limit: t.limit + 1}
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), rec, t.server)
	fellThrough := false
	err := t.serve(rec, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		fellThrough = true
		return nil
	}))
	switch {
	case rec.overflow:
		// The body is cut: the hooks package sees more than it accepts,
		// whatever the handler made of the failed write.
	case err != nil:
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode != 0 {
			return nil, fmt.Errorf("the hooks transport answered %d: %v", he.StatusCode, he.Err)
		}
		return nil, fmt.Errorf("the hooks transport failed: %v", err)
	case fellThrough && !rec.wroteHeader:
		return nil, errNoAnswer
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK // a handler that wrote only a body, as net/http does
	}
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

// serve runs the handler chain. reverse_proxy aborts a response it cannot
// finish (our recorder refusing a body past the limit, an upstream cut
// mid-answer) by panicking with http.ErrAbortHandler, which Go's HTTP
// server would catch; here nobody would, and the hook call fails instead.
func (t *hookTransport) serve(w *answerRecorder, r *http.Request, next caddyhttp.Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				err = errors.New("the hooks transport aborted the answer midway (the backend closed the connection, or the answer was larger than max_payload)")
				return
			}
			err = fmt.Errorf("the hooks transport panicked: %v", v)
		}
	}()
	return t.handler.ServeHTTP(w, r, next)
}

// answerRecorder is the http.ResponseWriter the handler chain writes the
// backend's answer to. Past limit bytes it refuses the body with an error,
// so that reverse_proxy stops copying a runaway answer.
type answerRecorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
	limit       int64
	overflow    bool
}

// errAnswerTooLarge stops the copy of a body past the recorder's limit.
var errAnswerTooLarge = errors.New("the hook answer is larger than max_payload")

func (w *answerRecorder) Header() http.Header { return w.header }

func (w *answerRecorder) WriteHeader(status int) {
	if w.wroteHeader || status < 200 {
		return // 1xx (103 Early Hints from a backend) are not the answer
	}
	w.status, w.wroteHeader = status, true
}

func (w *answerRecorder) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	room := w.limit - int64(w.body.Len())
	if int64(len(p)) > room {
		w.body.Write(p[:max(room, 0)])
		w.overflow = true
		return int(max(room, 0)), errAnswerTooLarge
	}
	return w.body.Write(p)
}

// Flush lets reverse_proxy's flush_interval and streaming work; the
// recorder holds the whole answer anyway.
func (w *answerRecorder) Flush() {}
