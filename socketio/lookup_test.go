package socketio

import (
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

func TestLookupNamespaceNeverCreatesOne(t *testing.T) {
	srv := NewServer(engine.NewServer(engine.Options{}), Options{})
	if n, ok := srv.LookupNamespace("/"); !ok || n.Name() != "/" {
		t.Errorf(`"/" must exist from the start: %v %v`, n, ok)
	}
	if _, ok := srv.LookupNamespace("/chat"); ok {
		t.Error("/chat found before Of created it")
	}
	if _, ok := srv.LookupNamespace("/chat"); ok {
		t.Error("a lookup created /chat")
	}
	chat := srv.Of("chat")
	if n, ok := srv.LookupNamespace("chat"); !ok || n != chat {
		t.Errorf(`"chat" (without a slash) must find /chat: %v %v`, n, ok)
	}
}
