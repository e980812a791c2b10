package engine

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Connection limits (Options.MaxConnections, MaxConnectionsPerIP). A
// handshake takes its place under Server.mu before anything is allocated
// for it, and gives it back when the session leaves the server's map (or
// when the handshake fails), so that a flood of handshakes costs a map
// lookup each once the limit is reached.

// codeTooManyConnections is the code of a handshake refused by a limit.
// engine.io has no such code (its server has no such limit); 6 is the
// first one it does not use.
const codeTooManyConnections = 6

const (
	messageTooManyConnections       = "Too many connections"
	messageTooManyConnectionsFromIP = "Too many connections from this address"
)

// admit reserves a place for a new session from r, or returns the message
// of the limit that refuses it. ip is the address the session counts
// against ("" when no per-address limit applies); pass it to unadmit.
func (srv *Server) admit(opts *settings, r *http.Request) (ip, refused string) {
	if opts.MaxConnectionsPerIP > 0 {
		ip = opts.ClientIP(r)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if opts.MaxConnections > 0 && srv.admitted >= opts.MaxConnections {
		return "", messageTooManyConnections
	}
	if ip != "" {
		if int(srv.perIP[ip]) >= opts.MaxConnectionsPerIP {
			return "", messageTooManyConnectionsFromIP
		}
		if srv.perIP == nil {
			srv.perIP = make(map[string]int32)
		}
		srv.perIP[ip]++
	}
	srv.admitted++
	return ip, ""
}

// unadmitLocked gives back what admit reserved; srv.mu is held.
func (srv *Server) unadmitLocked(ip string) {
	srv.admitted--
	if ip == "" {
		return
	}
	if n := srv.perIP[ip] - 1; n > 0 {
		srv.perIP[ip] = n
	} else {
		delete(srv.perIP, ip)
	}
}

// refuseHandshake answers a handshake refused by a limit: 429, with an
// Engine.IO error body (socket.io-client reports a connect_error; the
// body is readable over polling, a browser's WebSocket only sees the
// failure), and one log line per burst of refusals.
func (srv *Server) refuseHandshake(w http.ResponseWriter, r *http.Request, opts *settings, ip, message string, upgrade bool) {
	key, limit, value := "max_connections", "max_connections", opts.MaxConnections
	if message == messageTooManyConnectionsFromIP {
		key, limit, value = "ip "+ip, "max_connections_per_ip", opts.MaxConnectionsPerIP
	}
	if first, previous := srv.refusals.note(key); first {
		fields := []zap.Field{zap.String("limit", limit), zap.Int("value", value),
			zap.String("remote_addr", r.RemoteAddr)}
		if ip != "" {
			fields = append(fields, zap.String("client_ip", ip))
		}
		if previous > 0 {
			fields = append(fields, zap.Int("refused_in_previous_burst", previous))
		}
		opts.Logger.Warn("engine: refused handshakes over a connection limit (logged once per burst; raise "+limit+" if these clients are legitimate)", fields...)
	}
	body := `{"code":` + strconv.Itoa(codeTooManyConnections) + `,"message":"` + message + `"}`
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if upgrade {
		h.Set("Connection", "close")
	}
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(body))
}

// refusalBurstGap ends a burst of refusals: the next refusal after this
// long without one is logged again.
const refusalBurstGap = time.Minute

// maxRefusalBursts bounds the bursts remembered (one per refused address):
// past it, addresses seen for the first time are not logged until old
// bursts end, so that a flood from many addresses cannot flood the log or
// grow memory.
const maxRefusalBursts = 1024

// refusals remembers the bursts of refused handshakes, by limit and
// address, so that each burst is logged once.
type refusals struct {
	mu     sync.Mutex
	now    func() time.Time // time.Now; tests set a fake clock
	bursts map[string]*refusalBurst
}

type refusalBurst struct {
	last  time.Time // the latest refusal
	count int       // refusals in the burst
}

// note records a refusal under key and reports whether it starts a burst,
// and how many refusals the burst it follows had.
func (r *refusals) note(key string) (first bool, previous int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.now != nil {
		now = r.now()
	}
	if r.bursts == nil {
		r.bursts = make(map[string]*refusalBurst)
	}
	b := r.bursts[key]
	if b != nil && now.Sub(b.last) < refusalBurstGap {
		b.last = now
		b.count++
		return false, 0
	}
	if b != nil {
		previous = b.count
	} else {
		if len(r.bursts) >= maxRefusalBursts {
			for k, old := range r.bursts {
				if now.Sub(old.last) >= refusalBurstGap {
					delete(r.bursts, k)
				}
			}
			if len(r.bursts) >= maxRefusalBursts {
				return false, 0
			}
		}
		b = new(refusalBurst)
		r.bursts[key] = b
	}
	b.last, b.count = now, 1
	return true, previous
}
