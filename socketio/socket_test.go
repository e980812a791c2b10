package socketio

import (
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

func TestSocketDataHoldsTheApplicationsValue(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	_, sockets := connectRaw(t, ts, 2)
	if v := sockets[0].Data(); v != nil {
		t.Errorf("data of a new socket = %v, want nil", v)
	}
	sockets[0].SetData(map[string]string{"user": "ada"})
	sockets[0].On("ping", func(*Event) {}) // handlers and data live together
	if v, ok := sockets[0].Data().(map[string]string); !ok || v["user"] != "ada" {
		t.Errorf("data = %v, want what SetData stored", sockets[0].Data())
	}
	if v := sockets[1].Data(); v != nil {
		t.Errorf("data of the other socket = %v, want nil", v)
	}
}
