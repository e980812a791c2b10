package engine

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestIDsAre20Base64URLCharactersAndDistinct(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)
	seen := make(map[string]bool)
	for range 1000 {
		id := newID()
		if !re.MatchString(id) {
			t.Fatalf("id %q is not 20 base64url characters", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestSessionIDsAreNeverLoggedAboveDebug(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	ws := newWireServer(t, Options{Logger: zap.New(core)})
	sid := ws.open(t)
	poll := ws.url("EIO=4&transport=polling&sid=" + sid)
	ws.do(t, "POST", poll, "text/plain", "4hi\x1eabc") // a parse error closes it
	ws.reason(t)
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	conn.WriteMessage(websocket.TextMessage, []byte("2")) // wrong heartbeat direction
	ws.reason(t)
	conn.Close()
	time.Sleep(10 * time.Millisecond)

	if logs.Len() == 0 {
		t.Fatal("nothing was logged at debug level; the test proves nothing")
	}
	for _, e := range logs.All() {
		text := e.Message
		for k, v := range e.ContextMap() {
			text += " " + k + "=" + toString(v)
		}
		if e.Level > zapcore.DebugLevel && strings.Contains(text, sid) {
			t.Errorf("session id logged at %s: %s", e.Level, text)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
