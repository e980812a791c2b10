package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// hookBackend is the application backend of the hooks phase of
// bench/compare.sh (`loadgen hookbackend`): a small, fast HTTP server that
// answers the backend-hook contract of the README the way an application
// would, for both servers alike. Caddy reaches it through `hooks {
// reverse_proxy ... }`; the Node reference's handlers call it over a
// keep-alive agent with the same JSON bodies.
//
//   - POST <prefix>/connect: waits connectDelay (a backend that looks the
//     user up), then accepts.
//   - POST <prefix>/event: acks with the event's own arguments.
//   - POST <prefix>/notify: 204.
//   - GET /stats: what it saw since the last POST /reset, as hookStats.
//
// It verifies Socketio-Signature when given a secret, so both servers are
// known to sign every request (a bad one is counted and refused with 401).
// It counts the hook requests in flight and keeps the most it saw at once:
// the storm checks `max_concurrent` with it.
type hookBackend struct {
	prefix       string
	connectDelay time.Duration
	secret       []byte // nil: signatures are not checked

	inFlight, maxInFlight                 atomic.Int64
	connects, events, notifies, badSigned atomic.Int64
	eventBodyBytes, connectBodyBytes      atomic.Int64
	conns                                 atomic.Int64 // TCP connections accepted
}

// hookStats is the backend's GET /stats answer, read by the load generator
// (-hook-backend) into its result line.
type hookStats struct {
	Connects      int64 `json:"connects"`
	Events        int64 `json:"events"`
	Notifies      int64 `json:"notifies"`
	BadSignatures int64 `json:"bad_signatures"`
	MaxConcurrent int64 `json:"max_concurrent"` // hook requests in flight at once, at most
	// Connections counts the TCP connections the server opened to the
	// backend: a handful when it keeps them alive, one per request when not.
	Connections int64 `json:"connections"`
	// The mean request body, in bytes, of each kind (0 when none came): the
	// two servers' bodies should be of the same size for a fair comparison.
	EventBodyBytes   float64 `json:"event_body_bytes,omitempty"`
	ConnectBodyBytes float64 `json:"connect_body_bytes,omitempty"`
}

func (b *hookBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/stats" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.stats())
		return
	case r.URL.Path == "/reset" && r.Method == http.MethodPost:
		b.reset()
		w.WriteHeader(http.StatusNoContent)
		return
	case r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, b.prefix+"/"):
		http.Error(w, "hookbackend: want POST "+b.prefix+"/connect, /event or /notify, GET /stats or POST /reset; got "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for {
		m := b.maxInFlight.Load()
		if n <= m || b.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "hookbackend: reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if b.secret != nil && !validSignature(r.Header.Get("Socketio-Signature"), body, b.secret) {
		b.badSigned.Add(1)
		http.Error(w, "hookbackend: missing or wrong Socketio-Signature", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch strings.TrimPrefix(r.URL.Path, b.prefix) {
	case "/connect":
		b.connects.Add(1)
		b.connectBodyBytes.Add(int64(len(body)))
		if b.connectDelay > 0 {
			time.Sleep(b.connectDelay)
		}
		_, _ = w.Write([]byte(`{"accept":true}`))
	case "/event":
		b.events.Add(1)
		b.eventBodyBytes.Add(int64(len(body)))
		var ev struct {
			Args json.RawMessage `json:"args"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || len(ev.Args) == 0 {
			http.Error(w, fmt.Sprintf("hookbackend: an event body with args, please: %v", err), http.StatusBadRequest)
			return
		}
		out := make([]byte, 0, len(ev.Args)+8)
		out = append(append(append(out, `{"ack":`...), ev.Args...), '}')
		_, _ = w.Write(out)
	case "/notify":
		b.notifies.Add(1)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "hookbackend: no hook "+r.URL.Path, http.StatusNotFound)
	}
}

func (b *hookBackend) stats() hookStats {
	s := hookStats{
		Connects: b.connects.Load(), Events: b.events.Load(), Notifies: b.notifies.Load(),
		BadSignatures: b.badSigned.Load(), MaxConcurrent: b.maxInFlight.Load(), Connections: b.conns.Load(),
	}
	if s.Events > 0 {
		s.EventBodyBytes = float64(b.eventBodyBytes.Load()) / float64(s.Events)
	}
	if s.Connects > 0 {
		s.ConnectBodyBytes = float64(b.connectBodyBytes.Load()) / float64(s.Connects)
	}
	return s
}

func (b *hookBackend) reset() {
	for _, c := range []*atomic.Int64{&b.maxInFlight, &b.connects, &b.events, &b.notifies, &b.badSigned, &b.eventBodyBytes, &b.connectBodyBytes, &b.conns} {
		c.Store(0)
	}
}

// validSignature checks a `t=<unix>,v1=<hex>,...` header: one v1 must be
// the HMAC-SHA256 of "<t>.<body>" under secret, and t within five minutes.
func validSignature(header string, body, secret []byte) bool {
	var t string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			t = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	var unix int64
	if _, err := fmt.Sscan(t, &unix); err != nil || time.Since(time.Unix(unix, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(t + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// listen starts the backend on addr and returns the server and its address.
func (b *hookBackend) listen(addr string) (*http.Server, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			b.conns.Add(1)
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr(), nil
}

// runHookBackend is `loadgen hookbackend`: it serves until SIGTERM or
// SIGINT, after printing {"port":N} once listening.
func runHookBackend(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("hookbackend", flag.ContinueOnError)
	addr := fs.String("listen", "127.0.0.1:0", "address to listen on")
	b := &hookBackend{}
	fs.StringVar(&b.prefix, "prefix", "/socketio", "the hooks' path_prefix")
	fs.DurationVar(&b.connectDelay, "connect-delay", 0, "how long each connect hook takes to answer")
	secretEnv := fs.String("secret-env", "", "environment variable holding the hook secret; empty: signatures are not checked")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secretEnv != "" {
		s := os.Getenv(*secretEnv)
		if s == "" {
			return fmt.Errorf("-secret-env %s: the variable is empty; set it to the secret the servers sign with", *secretEnv)
		}
		b.secret = []byte(s)
	}
	srv, a, err := b.listen(*addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "{\"port\":%d}\n", a.(*net.TCPAddr).Port)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
