package socketio

import (
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

func TestRelayCoversOnlyTheNamedEventsAndCanBeReplaced(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	nsp := ts.io.Of("/")
	nsp.Relay("chat")
	clients, _ := connectRaw(t, ts, 2)
	sender, receiver := clients[0], clients[1]

	sender.send(`421["other",1]`) // not relayed: no handler, so no ack either
	sender.send(`422["chat","hi"]`)
	// (the receiver's next packet being the chat shows "other" was not relayed)
	if got := sender.read(); got != "432[]" {
		t.Errorf("the sender got %q, want the ack of the relayed event", got)
	}
	if got := receiver.read(); got != `42["chat","hi"]` {
		t.Errorf("the receiver got %q", got)
	}

	nsp.SetRelay(true, "other")
	sender.send(`42["chat","not any more"]`)
	sender.send(`42["other",2]`)
	if got := receiver.read(); got != `42["other",2]` {
		t.Errorf("after SetRelay the receiver got %q", got)
	}

	nsp.SetRelay(false)
	sender.send(`42["other",3]`)
	// Packets of one client are handled in order: once this one is
	// answered, "other" has been handled.
	sender.send(`40/sync,`)
	if got := sender.read(); got != `44/sync,{"message":"Invalid namespace"}` {
		t.Fatalf("sync got %q", got)
	}
	if err := nsp.Emit("end"); err != nil {
		t.Fatal(err)
	}
	if got := receiver.read(); got != `42["end"]` {
		t.Errorf("with relay off the receiver got %q", got)
	}
}
