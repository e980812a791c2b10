package caddysocketio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
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
	return &proxyTransport{proxy: rp, transport: ht, dial: dial, tls: ht.TLSEnabled(), limit: limit}, ""
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
	// The header is the hooks package's, built for this one round trip
	// and not read again: adding to it spares a copy per request (the
	// values are the same on every attempt).
	h := req.Header
	h["Via"] = viaCaddy
	h["X-Forwarded-For"] = forwardedFor
	h["X-Forwarded-Proto"] = forwardedHTTP
	if req.URL.Host == "localhost" {
		h["X-Forwarded-Host"] = forwardedLocalhost
	} else {
		h["X-Forwarded-Host"] = []string{req.URL.Host}
	}
	res, err := t.transport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	res.Body = &cappedBody{ReadCloser: res.Body, left: t.limit + 1}
	return res, nil
}

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
