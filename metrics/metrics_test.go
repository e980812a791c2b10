package metrics

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// value is the sample of the family name whose labels include want, or -1.
func value(t *testing.T, reg *prometheus.Registry, name string, want ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != "caddy_socketio_"+name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(want); i += 2 {
				if have[want[i]] != want[i+1] {
					continue metrics
				}
			}
			return sample(m)
		}
	}
	return -1
}

func sample(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

// liveServer is a Socket.IO server on a loopback port, reported as name.
type liveServer struct {
	io   *socketio.Server
	http *httptest.Server
	m    *Server
}

func startServer(t *testing.T, name string) *liveServer {
	t.Helper()
	eng := engine.NewServer(engine.Options{})
	io := socketio.NewServer(eng, socketio.Options{})
	io.Of("/chat")
	ls := &liveServer{io: io, http: httptest.NewServer(io), m: NewServer(name, eng, io)}
	Add(ls.m)
	t.Cleanup(func() {
		Remove(ls.m)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		ls.http.Close()
	})
	return ls
}

// dialConnect opens a WebSocket session, sends CONNECT to nsp with auth
// (a JSON object, or nothing when empty) and returns the connection and
// the server's answer.
func (ls *liveServer) dialConnect(t *testing.T, nsp, auth string) (*websocket.Conn, string) {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ls.http.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, open, err := conn.ReadMessage(); err != nil || open[0] != '0' {
		t.Fatalf("open packet %q, %v", open, err)
	}
	conn.WriteMessage(websocket.TextMessage, []byte(connectPacket(nsp)+auth))
	_, answer, err := conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return conn, string(answer)
}

// connectPacket is a CONNECT to nsp without its auth.
func connectPacket(nsp string) string {
	if nsp == "/" {
		return "40"
	}
	return "40" + nsp + ","
}

// connect opens a WebSocket session and joins nsp; it returns the
// connection once the CONNECT is answered.
func (ls *liveServer) connect(t *testing.T, nsp string) *websocket.Conn {
	t.Helper()
	conn, answer := ls.dialConnect(t, nsp, "")
	if !strings.HasPrefix(answer, connectPacket(nsp)+`{"sid":`) {
		t.Fatalf("CONNECT answer %q", answer)
	}
	return conn
}

func TestMetricsReportLiveServersAndSurviveReRegistration(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg); err != nil {
		t.Fatalf("registering again: %v", err)
	}
	ls := startServer(t, "metrics-test-a")
	conns := []*websocket.Conn{ls.connect(t, "/"), ls.connect(t, "/"), ls.connect(t, "/chat")}
	ls.m.RefusedOrigin()
	if err := ls.io.Emit("news", 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns[:2] {
		if _, msg, _ := c.ReadMessage(); string(msg) != `42["news",1]` {
			t.Fatalf("broadcast got %q", msg)
		}
	}
	srv := []string{"server", "metrics-test-a"}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sockets", []string{"namespace", "/"}, 2},
		{"sockets", []string{"namespace", "/chat"}, 1},
		{"engine_sessions", []string{"transport", "websocket", "protocol", "4"}, 3},
		{"engine_sessions", []string{"transport", "polling", "protocol", "4"}, 0},
		{"handshakes_total", []string{"outcome", "accepted"}, 3},
		{"handshakes_total", []string{"outcome", "refused_origin"}, 1},
		{"broadcasts_total", []string{"namespace", "/"}, 1},
		{"broadcast_deliveries_total", []string{"namespace", "/"}, 2},
		{"connects_total", []string{"namespace", "/chat"}, 1},
	} {
		if got := value(t, reg, c.name, append(srv, c.labels...)...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	// A new configuration's registry: the same server, the same values.
	reg2 := prometheus.NewPedanticRegistry()
	if err := Register(reg2); err != nil {
		t.Fatal(err)
	}
	if got := value(t, reg2, "handshakes_total", append(srv, "outcome", "accepted")...); got != 3 {
		t.Errorf("in a second registry, accepted handshakes = %v, want 3", got)
	}
}

func TestCountersOfARemovedServerCarryOverToItsSuccessor(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	old := startServer(t, "metrics-test-b")
	old.connect(t, "/")
	srv := []string{"server", "metrics-test-b"}
	if got := value(t, reg, "sockets", append(srv, "namespace", "/")...); got != 1 {
		t.Fatalf("sockets = %v, want 1", got)
	}
	next := startServer(t, "metrics-test-b") // during a reload, both live
	next.connect(t, "/")
	if got := value(t, reg, "sockets", append(srv, "namespace", "/")...); got != 2 {
		t.Errorf("two servers of one name: sockets = %v, want their sum 2", got)
	}
	Remove(old.m)
	if got := value(t, reg, "sockets", append(srv, "namespace", "/")...); got != 1 {
		t.Errorf("after the old server went: sockets = %v, want 1", got)
	}
	if got := value(t, reg, "handshakes_total", append(srv, "outcome", "accepted")...); got != 2 {
		t.Errorf("after the old server went: accepted handshakes = %v, want 2 (its count carries over)", got)
	}
}
