package hooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Hooks are the backend hooks of one namespace: Attach registers them once,
// SetConfig turns them on, changes or off them, Close stops them.
type Hooks struct {
	nsp *socketio.Namespace
	cur atomic.Pointer[runner] // nil: hooks off

	// ctx ends when Close gives up on flushing: it cancels every hook
	// request still in flight.
	ctx    context.Context
	cancel context.CancelFunc

	idPrefix string
	idSeq    atomic.Uint64

	stats Stats // totals for metrics, across every Config

	// shakes holds the encoded handshake of each connected socket that
	// had a hook call (shakeOf): a socket's handshake never changes, and
	// encoding it (its query parsed, its URL and time formatted) was a
	// tenth of a hooked event's CPU. shakeMu guards it; an entry goes when
	// its socket disconnects.
	shakeMu sync.Mutex
	shakes  map[*socketio.Socket]*shake

	// mu guards the fields below, and every wg.Add (so that none happens
	// once Close waits).
	mu      sync.Mutex
	closed  bool                             // Close was called: no new work
	stopped bool                             // Close gave up or finished: no new goroutine
	queues  map[*socketio.Socket]*eventQueue // sockets with events waiting or in flight
	senders int                              // notification senders running
	idle    chan struct{}                    // closed when senders drops to 0, if Close waits
	wg      sync.WaitGroup                   // every goroutine of the Hooks
}

// runner is one Config in use: the values SetConfig derived from it, its
// request slots and its notification queue.
type runner struct {
	h         *Hooks
	transport http.RoundTripper
	urls      [len(Kinds)]string // the hook URL of each Kind
	connect   bool
	exact     map[string]bool // event names without glob characters
	globs     []string
	notify    map[string]bool
	timeout   time.Duration
	slots     chan struct{} // one per request in flight (MaxConcurrent)
	signers   []*signer     // one per secret, the first first
	headers   []string      // canonical names
	maxAnswer int64
	log       *zap.Logger
	notes     *notifier
}

// Attach registers the hooks on nsp (once per namespace): its connect
// middleware (UseAsync: each connection to nsp then runs its middlewares on
// a goroutine of its own), its connection, event, join, leave and
// disconnect observers. They do nothing until SetConfig.
func Attach(nsp *socketio.Namespace) *Hooks {
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	h := &Hooks{nsp: nsp, idPrefix: hex.EncodeToString(seed[:]) + "-", queues: make(map[*socketio.Socket]*eventQueue), shakes: make(map[*socketio.Socket]*shake)}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	nsp.UseAsync(h.onConnect)
	nsp.OnConnection(func(s *socketio.Socket) { h.notify(s, "connect", "", "") })
	nsp.OnEvent(h.onEvent)
	nsp.OnJoin(func(s *socketio.Socket, room string) { h.notify(s, "join", "", room) })
	nsp.OnLeave(func(s *socketio.Socket, room string) { h.notify(s, "leave", "", room) })
	nsp.OnDisconnect(func(s *socketio.Socket, reason string) {
		h.notify(s, "disconnect", reason, "")
		h.forget(s)
	})
	return h
}

// SetConfig applies c from the next hook call on (calls under way finish
// with the configuration they started with); nil turns the hooks off.
// Live sockets keep their data and meta. The notifications queued under
// the previous configuration are still sent, through its own transport,
// in the background. c should have passed Validate: an invalid glob
// matches nothing. SetConfig after Close does nothing.
func (h *Hooks) SetConfig(c *Config) {
	var r *runner
	if c != nil {
		r = h.compile(c)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	old := h.cur.Swap(r)
	h.mu.Unlock()
	if old != nil {
		old.notes.retire()
	}
}

// Close sends the queued notifications until ctx ends, then cancels the
// hook requests still in flight and waits for every goroutine of the
// Hooks to end. Call it after the server's Shutdown, whose disconnections
// it then reports. It returns ctx's error when notifications were left
// unsent.
func (h *Hooks) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.wg.Wait()
		return nil
	}
	h.closed = true
	old := h.cur.Swap(nil)
	h.mu.Unlock()
	if old != nil {
		old.notes.retire()
	}
	var err error
	h.mu.Lock()
	var idle chan struct{}
	if h.senders > 0 {
		idle = make(chan struct{})
		h.idle = idle
	}
	h.mu.Unlock()
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			err = fmt.Errorf("hooks: notifications left unsent: %w", ctx.Err())
		}
	}
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	return err
}

// DroppedNotifications is the number of notifications dropped, oldest
// first, from full queues since Attach (a metric).
func (h *Hooks) DroppedNotifications() uint64 { return h.stats.dropped.Load() }

// goLocked starts fn as a goroutine of h, unless h is stopped; h.mu is
// held.
func (h *Hooks) goLocked(fn func()) bool {
	if h.stopped {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn()
	}()
	return true
}

// newID is a unique request or notification id: a random prefix per
// Hooks (so that nodes and restarts differ), then a counter.
func (h *Hooks) newID() string {
	return h.idPrefix + strconv.FormatUint(h.idSeq.Add(1), 36)
}

func (h *Hooks) compile(c *Config) *runner {
	r := &runner{
		h: h, transport: c.Transport, connect: c.Connect,
		timeout: c.Timeout, maxAnswer: c.MaxAnswerBytes, log: c.Logger,
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.maxAnswer <= 0 {
		r.maxAnswer = DefaultMaxAnswerBytes
	}
	n := c.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	if r.transport == nil { // Validate refuses it; still, work
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = n
		r.transport = t
	}
	for k := range r.urls {
		r.urls[k] = c.URL + "/" + Kinds[k]
	}
	r.slots = make(chan struct{}, n)
	if r.log == nil {
		r.log = zap.NewNop()
	}
	// A dead backend fails every hook at once: per message and second, the
	// first 10 lines are logged, then one in 100.
	r.log = r.log.With(zap.String("namespace", h.nsp.Name())).WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, 10, 100)
	}))
	for _, g := range c.Events {
		if _, err := path.Match(g, ""); err != nil {
			r.log.Error("invalid event glob ignored", zap.String("glob", g), zap.Error(err))
			continue
		}
		if isLiteral(g) {
			if r.exact == nil {
				r.exact = make(map[string]bool)
			}
			r.exact[g] = true
		} else {
			r.globs = append(r.globs, g)
		}
	}
	for _, t := range c.Notify {
		if r.notify == nil {
			r.notify = make(map[string]bool)
		}
		r.notify[t] = true
	}
	for _, s := range c.Secrets {
		r.signers = append(r.signers, newSigner([]byte(s)))
	}
	for _, name := range c.ForwardHeaders {
		r.headers = append(r.headers, http.CanonicalHeaderKey(name))
	}
	r.notes = &notifier{r: r, flush: make(chan struct{})}
	return r
}

func isLiteral(glob string) bool {
	for i := 0; i < len(glob); i++ {
		switch glob[i] {
		case '*', '?', '[', '\\':
			return false
		}
	}
	return true
}

func (r *runner) matches(name string) bool {
	if r.exact[name] {
		return true
	}
	for _, g := range r.globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// The error codes of a failed event hook, in the ack's
// {"error": {"code", "message"}}, and in the data of a refused connection.
const (
	CodeTimeout     = "timeout"     // no answer within the timeout
	CodeUnavailable = "unavailable" // connection refused, non-2xx status, hooks turned off or shutting down
	CodeBadAnswer   = "bad_answer"  // not JSON, too large, or of the wrong shape
	CodeOverloaded  = "overloaded"  // max_concurrent requests in flight for the whole timeout
	CodeQueueFull   = "queue_full"  // the socket has too many events waiting for the backend
)

// hookError is a failed hook call: Code and Message go to the client,
// cause only to the log.
type hookError struct {
	Code    string
	Message string
	cause   error
}

func (e *hookError) Error() string {
	if e.cause != nil {
		return e.Code + ": " + e.Message + ": " + e.cause.Error()
	}
	return e.Code + ": " + e.Message
}

// errShutdown is the cause of calls cut short by Close.
var errShutdown = errors.New("hooks closed")

// call POSTs body to the hook path of kind and returns the answer, within
// the timeout (the wait for a request slot included). forward holds the
// allowlisted handshake headers, nil for notifications. A request that
// got a slot is counted in the latency histogram of kind; the caller
// counts the call's outcome.
func (r *runner) call(kind Kind, body []byte, forward http.Header) ([]byte, *hookError) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.h.ctx, r.timeout)
	defer cancel()
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		if r.h.ctx.Err() != nil {
			return nil, &hookError{CodeUnavailable, "the server is shutting down", errShutdown}
		}
		return nil, &hookError{CodeOverloaded, "too many hook requests in flight", fmt.Errorf("no request slot free within %v (max_concurrent %d)", r.timeout, cap(r.slots))}
	}
	defer func() {
		<-r.slots
		r.h.stats.request(kind, time.Since(start))
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.urls[kind], bytes.NewReader(body))
	if err != nil {
		return nil, &hookError{CodeUnavailable, "the backend is unavailable", err}
	}
	// Room for what a reverse proxy adds (Via, X-Forwarded-*), so that the
	// map is not grown on the way.
	req.Header = make(http.Header, len(forward)+8)
	for name, v := range forward {
		req.Header[name] = v
	}
	req.Header["Content-Type"] = contentTypeJSON
	req.Header["User-Agent"] = userAgent
	if len(r.signers) > 0 {
		req.Header[SignatureHeader] = []string{signWith(r.signers, time.Now(), body)}
	}
	resp, err := r.transport.RoundTrip(req)
	if err != nil {
		return nil, r.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // lets the connection be reused
		return nil, &hookError{CodeUnavailable, "the backend is unavailable", fmt.Errorf("the backend answered %s to POST %s", resp.Status, req.URL.Path)}
	}
	if kind == KindNotify {
		// The answer's body means nothing: a large one is no failure
		// (which would resend the batch forever).
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, nil
	}
	var answer []byte
	if n := resp.ContentLength; n >= 0 && n <= r.maxAnswer {
		// The usual answer: its size is known and allowed, one read.
		answer = make([]byte, n)
		_, err = io.ReadFull(resp.Body, answer)
	} else {
		answer, err = io.ReadAll(io.LimitReader(resp.Body, r.maxAnswer+1))
	}
	if err != nil {
		return nil, r.transportError(ctx, err)
	}
	if int64(len(answer)) > r.maxAnswer {
		return nil, &hookError{CodeBadAnswer, "the backend's answer is not valid", fmt.Errorf("answer larger than %d bytes (max_payload)", r.maxAnswer)}
	}
	return answer, nil
}

// The header values of every hook request (net/http only reads them).
var (
	contentTypeJSON = []string{"application/json"}
	userAgent       = []string{"caddy-socketio-hooks"}
)

func (r *runner) transportError(ctx context.Context, err error) *hookError {
	switch {
	case r.h.ctx.Err() != nil:
		return &hookError{CodeUnavailable, "the server is shutting down", errShutdown}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &hookError{CodeTimeout, "the backend did not answer in time", fmt.Errorf("no answer within %v: %w", r.timeout, err)}
	}
	return &hookError{CodeUnavailable, "the backend is unavailable", err}
}

// shake is what the hooks send of one socket's handshake under one
// runner (whose allowlist of headers it follows): the encoded handshake
// object, the client's address, the forwarded headers (read-only).
type shake struct {
	r         *runner
	address   string
	handshake json.RawMessage
	forward   http.Header
}

// shakeOf returns the shake of s under r: the one kept for s when it was
// made under r, else a new one, kept if s is connected. A socket that is
// not yet connected (its connect hook) or no longer is gets none kept, so
// that forget, on its disconnection, leaves nothing behind: Connected turns
// false before the disconnect observers run, and is read here under
// shakeMu, which forget takes too.
func (h *Hooks) shakeOf(s *socketio.Socket, r *runner) (*shake, error) {
	h.shakeMu.Lock()
	sh := h.shakes[s]
	h.shakeMu.Unlock()
	if sh != nil && sh.r == r {
		return sh, nil
	}
	hs := s.Handshake()
	b, err := handshakeJSON(s, &hs, r.headers)
	if err != nil {
		return nil, err
	}
	sh = &shake{r: r, address: hs.Address, handshake: b, forward: r.forwardHeaders(&hs)}
	h.shakeMu.Lock()
	if s.Connected() {
		h.shakes[s] = sh
	}
	h.shakeMu.Unlock()
	return sh, nil
}

// forget drops what shakeOf kept of s, once s disconnected.
func (h *Hooks) forget(s *socketio.Socket) {
	h.shakeMu.Lock()
	delete(h.shakes, s)
	h.shakeMu.Unlock()
}

// forwardHeaders are the allowlisted handshake headers as HTTP headers of
// the hook request; nil when there are none.
func (r *runner) forwardHeaders(hs *socketio.Handshake) http.Header {
	var out http.Header
	for _, name := range r.headers {
		if v := hs.Headers.Values(name); len(v) > 0 {
			if out == nil {
				out = make(http.Header, len(r.headers))
			}
			out[name] = v
		}
	}
	return out
}
