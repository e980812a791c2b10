package caddysocketio

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-socketio/caddy-socketio/internal/http1"
)

// proxyTransport carries hook requests for a hooks block whose transport is
// one plain reverse_proxy, through that reverse_proxy's own provisioned
// pieces: its upstreams (with the availability its active health checks
// keep), its load-balancing policy and its HTTP transport (TLS to the
// backend, unix sockets, keep-alive, timeouts). What it skips is the
// handler chain around them: a replacer, vars and a response recorder per
// request, the request's clone and header rewriting for a client that is
// Caddy itself, the upstream's dial address parsed again, and a logger
// built per request. On this machine that chain cost about 70 µs of CPU
// per hook call, more than the rest of a hooked ack (BENCHMARKS.md,
// "Backend hooks"). newProxyTransport decides whether a reverse_proxy
// qualifies; any other transport runs the chain (hookTransport).
type proxyTransport struct {
	proxy     *reverseproxy.Handler
	transport *reverseproxy.HTTPTransport
	dial      map[*reverseproxy.Upstream]reverseproxy.DialInfo // parsed once
	tls       bool                                             // the transport speaks TLS to the upstreams
	limit     int64                                            // the largest answer body the hooks package accepts

	// pools, when the transport is plain HTTP/1.1 with options the lean
	// client honours (leanClient), are its kept connections per upstream:
	// requests are written and answers read on the caller's goroutine,
	// without net/http's two goroutines per connection and the hand-offs
	// between them (a third of Caddy's CPU per hooked ack, BENCHMARKS.md).
	// nil: every request goes through transport.
	pools map[*reverseproxy.Upstream]*http1.Pool
	gzip  bool // ask for gzip and inflate it, as net/http does unless compression is off
	// netHTTPBecause says why pools is nil (for a debug log).
	netHTTPBecause string
}

// dialInfoKey is where reverse_proxy's transports look for the upstream to
// dial (reverseproxy.GetDialInfo reads it; reverse_proxy sets it under this
// name). newProxyTransport checks that GetDialInfo finds it, so that a
// Caddy that renames it gets the handler chain instead of misdirected
// requests.
const dialInfoKey caddy.CtxKey = "reverse_proxy.dial_info"

// requestBlind lists the load-balancing policies that choose without
// looking at the request or counting requests in flight: those a hook
// request (which has no client of its own) can use as they are. The others
// (least_conn, which needs reverse_proxy's own request counts, and the
// policies that hash a client's address, header, cookie or URI) get the
// handler chain.
func requestBlind(s reverseproxy.Selector) bool {
	switch s.(type) {
	case reverseproxy.RandomSelection, *reverseproxy.RandomSelection,
		*reverseproxy.RoundRobinSelection, *reverseproxy.WeightedRoundRobinSelection,
		reverseproxy.RandomChoiceSelection, *reverseproxy.RandomChoiceSelection,
		reverseproxy.FirstSelection, *reverseproxy.FirstSelection:
		return true
	}
	return false
}

// newProxyTransport returns the direct transport for rp, or nil and why
// rp needs the handler chain: anything in rp that runs per request beyond
// choosing an upstream and making the round trip (header operations,
// rewrites, response handlers, buffering, a circuit breaker, passive
// health checks, dynamic upstreams or placeholders in a dial address,
// retry matchers, PROXY protocol, HTTP/3, a per-upstream request limit)
// keeps today's general path, where reverse_proxy does all of it.
func newProxyTransport(rp *reverseproxy.Handler, limit int64) (*proxyTransport, string) {
	ht, ok := rp.Transport.(*reverseproxy.HTTPTransport)
	switch {
	case !ok:
		return nil, fmt.Sprintf("transport %T", rp.Transport)
	case ht.ProxyProtocol != "":
		return nil, "proxy_protocol"
	case slices.Contains(ht.Versions, "3"):
		return nil, "HTTP/3"
	case rp.Headers != nil:
		return nil, "header operations"
	case rp.Rewrite != nil:
		return nil, "rewrite"
	case len(rp.HandleResponse) > 0:
		return nil, "handle_response"
	case rp.RequestBuffers != 0 || rp.ResponseBuffers != 0:
		return nil, "buffering"
	case rp.CB != nil:
		return nil, "circuit breaker"
	case rp.DynamicUpstreams != nil:
		return nil, "dynamic upstreams"
	case rp.HealthChecks != nil && rp.HealthChecks.Passive != nil:
		return nil, "passive health checks"
	case rp.LoadBalancing == nil || rp.LoadBalancing.SelectionPolicy == nil:
		return nil, "no load balancing policy"
	case len(rp.LoadBalancing.RetryMatch) > 0:
		return nil, "retry_match"
	case !requestBlind(rp.LoadBalancing.SelectionPolicy):
		return nil, fmt.Sprintf("load balancing policy %T", rp.LoadBalancing.SelectionPolicy)
	case len(rp.Upstreams) == 0:
		return nil, "no static upstreams"
	}
	if _, ok := reverseproxy.GetDialInfo(context.WithValue(context.Background(), dialInfoKey, reverseproxy.DialInfo{})); !ok {
		return nil, "this Caddy's reverse_proxy keeps its dial info elsewhere"
	}
	dial := make(map[*reverseproxy.Upstream]reverseproxy.DialInfo, len(rp.Upstreams))
	for _, u := range rp.Upstreams {
		if u.MaxRequests > 0 {
			return nil, "max_requests"
		}
		if strings.Contains(u.Dial, "{") {
			return nil, "placeholders in an upstream address"
		}
		addr, err := caddy.ParseNetworkAddress(u.Dial)
		if err != nil || addr.PortRangeSize() != 1 {
			return nil, "upstream address " + u.Dial // reverse_proxy reports it
		}
		dial[u] = reverseproxy.DialInfo{
			Upstream: u,
			Network:  addr.Network,
			Address:  addr.JoinHostPort(0),
			Host:     addr.Host,
			Port:     strconv.Itoa(int(addr.StartPort)),
		}
	}
	t := &proxyTransport{proxy: rp, transport: ht, dial: dial, tls: ht.TLSEnabled(), limit: limit}
	t.netHTTPBecause = t.leanClient()
	return t, ""
}

// leanClient gives t the lean HTTP/1.1 client's pools when reverse_proxy's
// transport asks for nothing it leaves out, or says why not: TLS, HTTP/2
// cleartext, keep-alive off, a limit of connections per host, header or
// read and write timeouts, a forward proxy for an upstream. Connections
// are dialed by reverse_proxy's own dialer (dial timeout, fallback delay,
// local address, resolver, TCP keep-alive probes); idle ones are kept as
// its keep_alive settings say.
func (t *proxyTransport) leanClient() string {
	ht, rt := t.transport, t.transport.Transport
	ka := ht.KeepAlive
	switch {
	case rt == nil || rt.DialContext == nil:
		return "no provisioned dialer"
	case t.tls:
		return "TLS to the upstreams"
	case len(ht.Versions) > 0 && !slices.Contains(ht.Versions, "1.1"), slices.Contains(ht.Versions, "h2c"):
		return fmt.Sprintf("HTTP versions %v", ht.Versions)
	case ka != nil && ka.Enabled != nil && !*ka.Enabled, rt.DisableKeepAlives:
		return "keep-alive off"
	case rt.MaxConnsPerHost > 0:
		return "max_conns_per_host"
	case ht.ResponseHeaderTimeout > 0, ht.ReadTimeout > 0, ht.WriteTimeout > 0, ht.ExpectContinueTimeout > 0:
		return "response header, read, write or expect-continue timeouts"
	}
	maxIdle := rt.MaxIdleConnsPerHost
	if maxIdle == 0 {
		maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	if rt.MaxIdleConns > 0 {
		maxIdle = min(maxIdle, rt.MaxIdleConns)
	}
	maxHeader := int(rt.MaxResponseHeaderBytes)
	if maxHeader <= 0 {
		maxHeader = 10 << 20 // net/http's default
	}
	pools := make(map[*reverseproxy.Upstream]*http1.Pool, len(t.dial))
	for u, di := range t.dial {
		switch di.Network {
		case "tcp", "tcp4", "tcp6":
			if rt.Proxy != nil {
				probe := &http.Request{URL: &url.URL{Scheme: "http", Host: di.Address}, Header: http.Header{}}
				if p, err := rt.Proxy(probe.WithContext(context.Background())); p != nil || err != nil {
					return "a forward proxy for " + di.Address
				}
			}
		case "unix":
		default:
			return "network " + di.Network
		}
		ctx := context.WithValue(context.Background(), dialInfoKey, di)
		pools[u] = &http1.Pool{
			Dial: func(c context.Context) (net.Conn, error) {
				// reverse_proxy's dialer reads the upstream from the
				// context, and marks its failures as DialError.
				return rt.DialContext(mergeDialInfo{c, ctx}, di.Network, di.Address)
			},
			MaxIdle:        maxIdle,
			IdleTimeout:    rt.IdleConnTimeout,
			MaxHeaderBytes: maxHeader,
			MaxBody:        t.limit + 1,
		}
	}
	t.pools, t.gzip = pools, !rt.DisableCompression
	return ""
}

// mergeDialInfo is the caller's context (deadline, cancellation) with the
// dial info's values.
type mergeDialInfo struct {
	context.Context
	values context.Context
}

func (m mergeDialInfo) Value(key any) any {
	if v := m.values.Value(key); v != nil {
		return v
	}
	return m.Context.Value(key)
}

// Close closes the idle connections of the lean client (Caddy's reverse_proxy
// cleans up its own transport).
func (t *proxyTransport) Close() {
	for _, p := range t.pools {
		p.Close()
	}
}

// The headers reverse_proxy adds to a request from Caddy itself (client
// 127.0.0.1, plain HTTP, host localhost: see hookTransport), so that a
// backend sees the same request on either path.
var (
	viaCaddy      = []string{"1.1 Caddy"}
	forwardedFor  = []string{"127.0.0.1"}
	forwardedHTTP = []string{"http"}
	// forwardedLocalhost is the host of every hook URL the module builds.
	forwardedLocalhost = []string{"localhost"}
)

// RoundTrip sends req to an upstream that reverse_proxy's policy chooses
// among the available ones. When nothing could be sent (no upstream
// available, or the dial failed), it tries again as reverse_proxy would,
// within lb_retries and lb_try_duration; a request that reached an
// upstream is never sent twice.
func (t *proxyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	lb := t.proxy.LoadBalancing
	start := time.Now()
	for retries := 0; ; retries++ {
		res, err := t.try(req)
		if err == nil {
			return res, nil
		}
		var dialErr reverseproxy.DialError
		retryable := errors.Is(err, errNoUpstream) || errors.As(err, &dialErr)
		if !retryable || !t.tryAgain(req.Context(), lb, start, retries) {
			return nil, proxyError(err)
		}
	}
}

// tryAgain tells whether lb lets a failed attempt be repeated, after its
// try_interval.
func (t *proxyTransport) tryAgain(ctx context.Context, lb *reverseproxy.LoadBalancing, start time.Time, retries int) bool {
	switch {
	case lb.TryDuration == 0 && lb.Retries == 0:
		return false
	case lb.TryDuration > 0 && time.Since(start) >= time.Duration(lb.TryDuration):
		return false
	case lb.Retries > 0 && retries >= lb.Retries:
		return false
	case lb.TryInterval == 0:
		return true
	}
	timer := time.NewTimer(time.Duration(lb.TryInterval))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

var errNoUpstream = errors.New("no upstreams available")

// try is one attempt: choose an upstream, point a copy of req at it, and
// make the round trip.
func (t *proxyTransport) try(req *http.Request) (*http.Response, error) {
	u := t.proxy.LoadBalancing.SelectionPolicy.Select(t.proxy.Upstreams, req, nil)
	if u == nil {
		return nil, errNoUpstream
	}
	di := t.dial[u]
	if p := t.pools[u]; p != nil {
		return t.lean(p, req)
	}
	r := req.WithContext(context.WithValue(req.Context(), dialInfoKey, di))
	url := *req.URL
	// As reverse_proxy does: the transport sets the scheme (https when it
	// has TLS), the dialer takes the address from the dial info.
	url.Scheme, url.Host = "", di.Address
	r.URL = &url
	r.Host = req.URL.Host
	if t.tls {
		// reverse_proxy's HTTPS transport sends the upstream's host:port
		// as Host (its header_up Host {upstream_hostport} default).
		r.Host = di.Address
	}
	forwarding(req)
	res, err := t.transport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	res.Body = &cappedBody{ReadCloser: res.Body, left: t.limit + 1}
	return res, nil
}

// forwarding adds to req the headers reverse_proxy adds. The header is
// the hooks package's, built for this one round trip and not read again:
// adding to it spares a copy per request (the values are the same on
// every attempt).
func forwarding(req *http.Request) {
	h := req.Header
	h["Via"] = viaCaddy
	h["X-Forwarded-For"] = forwardedFor
	h["X-Forwarded-Proto"] = forwardedHTTP
	if req.URL.Host == "localhost" {
		h["X-Forwarded-Host"] = forwardedLocalhost
	} else {
		h["X-Forwarded-Host"] = []string{req.URL.Host}
	}
}

// lean makes the round trip of req with the lean client's pool p: the
// same request as through net/http (Host, the forwarding headers,
// Accept-Encoding: gzip unless compression is off), the answer read whole
// and capped as cappedBody caps it.
func (t *proxyTransport) lean(p *http1.Pool, req *http.Request) (*http.Response, error) {
	forwarding(req)
	h := req.Header
	gz := t.gzip && h["Accept-Encoding"] == nil && h["Range"] == nil
	if gz {
		h["Accept-Encoding"] = acceptGzip
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	body, n := req.Body, req.ContentLength
	if body == nil || body == http.NoBody {
		body, n = nil, 0
	} else if n == 0 {
		n = -1 // a body of unknown length (net/http's convention)
	}
	res, err := p.Do(req.Context(), &http1.Request{
		Method: req.Method, Target: req.URL.RequestURI(), Host: host, Header: h,
		Body: body, ContentLength: n,
		Replayable: replayable(req),
	})
	if gz {
		delete(h, "Accept-Encoding")
	}
	if err != nil {
		return nil, err
	}
	answer := res.Body
	if gz && res.Header.Get("Content-Encoding") == "gzip" {
		if answer, err = gunzip(answer, t.limit+1); err != nil {
			return nil, fmt.Errorf("the backend's gzip answer cannot be read: %w", err)
		}
		res.Header.Del("Content-Encoding")
		res.Header.Del("Content-Length")
	}
	return &http.Response{
		Status:        res.Status,
		StatusCode:    res.StatusCode,
		Proto:         res.Proto,
		ProtoMajor:    1,
		ProtoMinor:    res.ProtoMinor,
		Header:        res.Header,
		Body:          &answerBody{Reader: bytes.NewReader(answer)},
		ContentLength: int64(len(answer)),
		Request:       req,
	}, nil
}

var acceptGzip = []string{"gzip"}

// replayable is net/http's rule for sending a request again on a new
// connection when a kept one died before answering.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header["Idempotency-Key"] != nil || req.Header["X-Idempotency-Key"] != nil
}

// gunzip inflates b up to limit bytes.
func gunzip(b []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit))
	if err != nil && len(out) < int(limit) {
		return nil, err
	}
	return out, nil
}

// answerBody is an answer read whole.
type answerBody struct{ *bytes.Reader }

func (answerBody) Close() error { return nil }

// proxyError words a failed round trip as the handler chain does, with
// the status reverse_proxy would have answered.
func proxyError(err error) error {
	status := http.StatusBadGateway
	var ne net.Error
	switch {
	case errors.Is(err, errNoUpstream):
		status = http.StatusServiceUnavailable
	case errors.As(err, &ne) && ne.Timeout():
		status = http.StatusGatewayTimeout
	}
	return fmt.Errorf("the hooks transport answered %d: %w", status, err)
}

// cappedBody ends an answer at left bytes, as hookTransport's recorder
// does, so that the hooks package can tell a too large answer from a full
// one without more of it read.
type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
