package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-socketio/caddy-socketio/hooks"
)

// hookBackend accepts a connect unless its auth is {"token": "no"}, and
// answers every event with the ack ["yes"].
func hookBackend(t *testing.T) *httptest.Server {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Handshake struct {
				Auth struct{ Token string } `json:"auth"`
			} `json:"handshake"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/connect" && req.Handshake.Auth.Token == "no":
			w.Write([]byte(`{"accept": false, "message": "no"}`))
		case r.URL.Path == "/connect":
			w.Write([]byte(`{"accept": true}`))
		default:
			w.Write([]byte(`{"ack": ["yes"]}`))
		}
	}))
	t.Cleanup(be.Close)
	return be
}

func TestHookCallsAndLatencyByNamespaceAndHook(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	ls := startServer(t, "metrics-test-hooks")
	h := hooks.Attach(ls.io.Of("/chat"))
	h.SetConfig(&hooks.Config{Transport: http.DefaultTransport, URL: hookBackend(t).URL, Connect: true, Events: []string{"ask"}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = h.Close(ctx)
	})
	ls.m.AddHooks("/chat", h)
	ls.connect(t, "/") // no hooks there

	conn, answer := ls.dialConnect(t, "/chat", `{"token":"yes"}`)
	if !strings.HasPrefix(answer, `40/chat,{"sid":`) {
		t.Fatalf("accepted CONNECT answered %q", answer)
	}
	conn.WriteMessage(websocket.TextMessage, []byte(`42/chat,1["ask"]`))
	if _, ack, err := conn.ReadMessage(); err != nil || string(ack) != `43/chat,1["yes"]` {
		t.Fatalf("event ack %q, %v", ack, err)
	}
	ls.dialConnect(t, "/chat", `{}`)
	if _, answer := ls.dialConnect(t, "/chat", `{"token":"no"}`); !strings.HasPrefix(answer, `44/chat,{"message":"no"`) {
		t.Fatalf("refused CONNECT answered %q", answer)
	}

	srv := []string{"server", "metrics-test-hooks", "namespace", "/chat"}
	check := func(reg *prometheus.Registry, when string) {
		t.Helper()
		for _, c := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"hook_calls_total", []string{"hook", "connect", "outcome", "ok"}, 2},
			{"hook_calls_total", []string{"hook", "connect", "outcome", "refused"}, 1},
			{"hook_calls_total", []string{"hook", "connect", "outcome", "timeout"}, 0},
			{"hook_calls_total", []string{"hook", "event", "outcome", "ok"}, 1},
			{"hook_calls_total", []string{"hook", "event", "outcome", "queue_full"}, 0},
			{"hook_calls_total", []string{"hook", "notify", "outcome", "ok"}, 0},
			{"hook_calls_total", []string{"hook", "notify", "outcome", "bad_answer"}, -1}, // cannot happen: no series
			{"hook_calls_total", []string{"hook", "event", "outcome", "refused"}, -1},
			{"hook_request_duration_seconds", []string{"hook", "connect"}, 3},
			{"hook_request_duration_seconds", []string{"hook", "event"}, 1},
			{"hook_request_duration_seconds", []string{"hook", "notify"}, 0},
			{"hook_notifications_dropped_total", nil, 0},
		} {
			if got := value(t, reg, c.name, append(srv, c.labels...)...); got != c.want {
				t.Errorf("%s: %s%v = %v, want %v", when, c.name, c.labels, got, c.want)
			}
		}
		if got := value(t, reg, "hook_calls_total", "server", "metrics-test-hooks", "namespace", "/"); got != -1 {
			t.Errorf("%s: the namespace without hooks has hook series", when)
		}
	}
	check(reg, "live")

	// Replaced by a server of the same name without hooks (yet): the
	// counters and the histograms go on from where they got.
	Remove(ls.m)
	startServer(t, "metrics-test-hooks")
	check(reg, "after a replacement")
}
