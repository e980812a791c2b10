package integration_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metricsSite is a relay site whose server is called "app", with a cors
// origin that a reload changes.
func metricsSite(port int, origin string) string {
	return fmt.Sprintf(`http://:%d {
	bind 127.0.0.1
	socketio {
		name app
		cors {
			origin %s
		}
		namespace / {
			relay
		}
	}
}
`, port, origin)
}

// scrape reads Caddy's admin /metrics and returns the caddy_socketio
// samples of the server "app", as `name{label="value",...}` (labels sorted
// as Prometheus writes them, the server label left out) to value, and the
// sum of each family over its labels as "sum:name".
func scrape(t *testing.T, c *caddyProcess) map[string]float64 {
	t.Helper()
	resp, body := httpGet(t, "http://"+c.adminAddr+"/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "caddy_socketio_") || !strings.Contains(line, `server="app"`) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("unreadable sample %q", line)
		}
		series := strings.Replace(line[:i], `server="app"`, "", 1)
		series = strings.NewReplacer("{,", "{", ",,", ",", ",}", "}", "{}", "").Replace(series)
		out[series] = v
		family, _, _ := strings.Cut(series, "{")
		out["sum:"+family] += v
	}
	return out
}

// expectMetrics checks the samples want against a scrape, waiting (bounded)
// for the ones that follow a client's action to settle.
func expectMetrics(t *testing.T, c *caddyProcess, when string, want map[string]float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := scrape(t, c)
		var wrong []string
		for series, v := range want {
			if got[series] != v {
				wrong = append(wrong, fmt.Sprintf("%s = %v, want %v", series, got[series], v))
			}
		}
		if len(wrong) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n%s", when, strings.Join(wrong, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The metrics after known traffic: three clients on each transport and one
// that upgrades, a refused origin, a relayed broadcast to the six others;
// then a reload
// that changes the origins, after which counters go on from where they
// were and the gauges still count the connected clients.
func TestMetricsCountKnownTrafficAcrossAReload(t *testing.T) {
	port := freePort(t)
	server := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := startCaddy(t, metricsSite(port, "https://first.example"))

	var specs []clientSpec
	for i := range 3 {
		specs = append(specs,
			clientSpec{Name: fmt.Sprint("ws", i), Version: "v4", URL: server, Transports: []string{"websocket"}},
			clientSpec{Name: fmt.Sprint("poll", i), Version: "v4", URL: server, Transports: []string{"polling"}})
	}
	specs = append(specs, clientSpec{Name: "up", Version: "v4", URL: server})
	clients := startClients(t, specs...)
	clients.connected(10*time.Second, "ws0", "ws1", "ws2", "poll0", "poll1", "poll2", "up")
	clients.waitFor(5*time.Second, "up upgrading to WebSocket", onWebSocket("up"))
	if handshakeAllowed(t, server, "https://second.example") {
		t.Fatal("https://second.example allowed before the reload")
	}
	clients.send(map[string]any{"cmd": "emit", "name": "ws0", "event": "note", "args": []any{1}})
	for _, name := range []string{"ws1", "ws2", "poll0", "poll1", "poll2", "up"} {
		clients.waitFor(5*time.Second, name+" receiving the note", func(e clientEvent) bool {
			return e.Type == "received" && e.Name == name && e.Event == "note"
		})
	}

	before := expectMetrics(t, c, "before the reload", map[string]float64{
		`caddy_socketio_sockets{namespace="/"}`:                              7,
		`caddy_socketio_engine_sessions{protocol="4",transport="websocket"}`: 4,
		`caddy_socketio_engine_sessions{protocol="4",transport="polling"}`:   3,
		`caddy_socketio_handshakes_total{outcome="accepted"}`:                7,
		`caddy_socketio_handshakes_total{outcome="refused_origin"}`:          1,
		`caddy_socketio_handshakes_total{outcome="refused_allow_request"}`:   0,
		`caddy_socketio_connects_total{namespace="/"}`:                       7,
		`caddy_socketio_broadcasts_total{namespace="/"}`:                     1,
		`caddy_socketio_broadcast_deliveries_total{namespace="/"}`:           6,
		`caddy_socketio_upgrades_total`:                                      1,
	})
	for _, transport := range []string{"polling", "websocket"} {
		for _, family := range []string{"packets_received_total", "packets_sent_total", "bytes_received_total", "bytes_sent_total"} {
			if series := fmt.Sprintf(`caddy_socketio_%s{transport=%q}`, family, transport); before[series] <= 0 {
				t.Errorf("%s = %v, want traffic counted", series, before[series])
			}
		}
	}

	c.reload(metricsSite(port, "https://second.example"))

	// The same sockets, counted once; new traffic adds to the old counts.
	if handshakeAllowed(t, server, "https://first.example") {
		t.Error("https://first.example still allowed after the reload")
	}
	if !handshakeAllowed(t, server, "https://second.example") {
		t.Error("https://second.example not allowed after the reload")
	}
	clients.send(map[string]any{"cmd": "emit", "name": "poll0", "event": "note", "args": []any{2}})
	for _, name := range []string{"ws0", "ws1", "ws2", "poll1", "poll2", "up"} {
		clients.waitFor(5*time.Second, name+" receiving the second note", func(e clientEvent) bool {
			return e.Type == "received" && e.Name == name && e.Event == "note" && string(e.Args) == "[2]"
		})
	}
	after := expectMetrics(t, c, "after the reload", map[string]float64{
		`caddy_socketio_sockets{namespace="/"}`:                              7,
		`caddy_socketio_engine_sessions{protocol="4",transport="websocket"}`: 4,
		// The allowed handshake opened a session nobody follows up.
		`caddy_socketio_engine_sessions{protocol="4",transport="polling"}`: 4,
		`caddy_socketio_handshakes_total{outcome="accepted"}`:              8,
		`caddy_socketio_handshakes_total{outcome="refused_origin"}`:        2,
		`caddy_socketio_connects_total{namespace="/"}`:                     7,
		`caddy_socketio_broadcasts_total{namespace="/"}`:                   2,
		`caddy_socketio_broadcast_deliveries_total{namespace="/"}`:         12,
		`caddy_socketio_upgrades_total`:                                    1,
	})
	if after[`caddy_socketio_packets_received_total{transport="polling"}`] <= before[`caddy_socketio_packets_received_total{transport="polling"}`] {
		t.Error("packets received over polling did not go on counting after the reload")
	}

	// The clients leave: the gauges fall to the abandoned session, and
	// each disconnect is counted, with its reason (a polling client's
	// close packet may come before its namespace disconnect: then the
	// reason is "transport close").
	clients.send(map[string]any{"cmd": "close"})
	expectMetrics(t, c, "after the clients left", map[string]float64{
		`caddy_socketio_sockets{namespace="/"}`:                              0,
		`caddy_socketio_engine_sessions{protocol="4",transport="websocket"}`: 0,
		`caddy_socketio_engine_sessions{protocol="4",transport="polling"}`:   1,
		`sum:caddy_socketio_disconnects_total`:                               7,
		`sum:caddy_socketio_engine_closes_total`:                             7,
	})
}
