package engine

import (
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Options configures a Server. Zero values take Node's engine.io defaults.
type Options struct {
	PingInterval   time.Duration // 25s when zero
	PingTimeout    time.Duration // 20s when zero
	UpgradeTimeout time.Duration // 10s when zero
	// MaxPayload is Node's maxHttpBufferSize: the largest POST body or
	// WebSocket message accepted, in bytes. 1e6 when zero.
	MaxPayload int64
	// Transports lists the allowed transports, "polling" and "websocket";
	// both when empty.
	Transports []string
	// DisableUpgrades is Node's allowUpgrades=false.
	DisableUpgrades bool
	// AllowEIO3 accepts clients speaking protocol 3 (socket.io-client 2.x).
	AllowEIO3 bool
	// HTTPCompression compresses polling responses; nil means on, with a
	// threshold of 1024 bytes.
	HTTPCompression *CompressionOptions
	// PerMessageDeflate negotiates WebSocket compression (off by default, as
	// in Node); messages under 1024 bytes are never compressed.
	PerMessageDeflate bool
	// Cookie, when set, is sent on every handshake with the session id as its
	// value. Name defaults to "io", Path to "/", SameSite to Lax.
	Cookie *http.Cookie
	// AllowRequest runs on handshakes only (requests without a sid): the
	// session's later requests are tied to it by the sid. A non-nil error
	// refuses the handshake: 403 {"code":4,"message":<error>} on polling,
	// a plain 400 on a WebSocket.
	AllowRequest func(*http.Request) error
	Logger       *zap.Logger

	// MaxConnections bounds the sessions the server holds at once; a
	// handshake beyond it is refused with 429 and the body
	// {"code":6,"message":"Too many connections"} (engine.io has no such
	// code; socket.io-client reports it as a connect_error), logged once
	// per burst of refusals. No limit when zero. It applies to new
	// handshakes: lowering it closes no session.
	MaxConnections int
	// MaxConnectionsPerIP bounds the sessions of one client address, as
	// ClientIP gives it: 429 {"code":6,"message":"Too many connections
	// from this address"} beyond it. No limit when zero. Sessions opened
	// while it was zero do not count.
	MaxConnectionsPerIP int
	// ClientIP is the address a handshake counts against for
	// MaxConnectionsPerIP: the host of Request.RemoteAddr when nil. A
	// server behind a proxy passes the address it trusts (Caddy's client
	// IP, which honours trusted_proxies).
	ClientIP func(*http.Request) string
	// MaxBufferedBytes is the budget of outbound bytes queued for all the
	// server's sessions together, a broadcast's bytes counted once however
	// many sessions share them (see buffered.go): once it is reached, the
	// sessions whose backlog is oldest and largest are closed ("transport
	// error") until the total is back under 7/8 of it. No budget when zero
	// or negative. It is the server's, not a session's: the value of the
	// latest SetOptions applies.
	MaxBufferedBytes int64

	// JSONP accepts JSONP polling (a "j" query parameter: the transport of
	// browsers without CORS, which engine.io-client 3.x falls back to).
	// Off by default, because any page can use it across sites: a
	// <script> request carries no Origin, so a page on another site opens
	// a session, reads its traffic through the callback and writes with
	// form POSTs. When off, a JSONP handshake is answered
	// 400 {"code":3,"message":...}.
	JSONP bool
	// AllowJSONP, when JSONP is on, runs on every JSONP request (handshake,
	// polls and posts, since a page of another site can make each of them
	// without CORS): a non-nil error refuses it with
	// 403 {"code":4,"message":<error>}. Check the request's Referer and
	// Sec-Fetch-Site there, as cors.Policy.CheckCrossSite does.
	AllowJSONP func(*http.Request) error
}

// CompressionOptions configures HTTP compression of polling responses.
type CompressionOptions struct {
	Disabled  bool
	Threshold int // bytes; 1024 when zero
}

// settings is Options with the defaults applied; sessions keep the one that
// was current at their handshake.
type settings struct {
	Options
	polling, websocket bool
	compressThreshold  int // -1: no compression
}

func newSettings(o Options) *settings {
	s := &settings{Options: o}
	if s.PingInterval <= 0 {
		s.PingInterval = 25 * time.Second
	}
	if s.PingTimeout <= 0 {
		s.PingTimeout = 20 * time.Second
	}
	if s.UpgradeTimeout <= 0 {
		s.UpgradeTimeout = 10 * time.Second
	}
	if s.MaxPayload <= 0 {
		s.MaxPayload = 1e6
	}
	if len(s.Transports) == 0 {
		s.polling, s.websocket = true, true
	}
	for _, t := range s.Transports {
		switch t {
		case transportPolling:
			s.polling = true
		case transportWebSocket:
			s.websocket = true
		}
	}
	s.compressThreshold = 1024
	if c := s.HTTPCompression; c != nil {
		if c.Disabled {
			s.compressThreshold = -1
		} else if c.Threshold > 0 {
			s.compressThreshold = c.Threshold
		}
	}
	if s.Logger == nil {
		s.Logger = zap.NewNop()
	}
	if s.ClientIP == nil {
		s.ClientIP = remoteHost
	}
	return s
}

func (s *settings) allows(transport string) bool {
	switch transport {
	case transportPolling:
		return s.polling
	case transportWebSocket:
		return s.websocket
	}
	return false
}

const (
	transportPolling   = "polling"
	transportWebSocket = "websocket"
)

// remoteHost is the host part of the request's peer address.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
