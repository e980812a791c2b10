package redisadapter

import (
	"encoding/json"
	"testing"
)

func TestChannelNamesAreNodes(t *testing.T) {
	c := channelsOf("socket.io", "/chat", "66lafu")
	got := []string{c.broadcast, c.pattern, c.request, c.response, c.specificResponse}
	want := []string{"socket.io#/chat#", "socket.io#/chat#*", "socket.io-request#/chat#",
		"socket.io-response#/chat#", "socket.io-response#/chat#66lafu#"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("channel %d: %q; want %q", i, got[i], want[i])
		}
	}
	if ch := broadcastChannel("app", "/", []string{"r"}); ch != "app#/#r#" {
		t.Errorf("one room: %q", ch)
	}
	if ch := broadcastChannel("app", "/", []string{"r", "s"}); ch != "app#/#" {
		t.Errorf("two rooms: %q", ch)
	}
}

// The answer to the legacy single-socket join, leave and disconnect.
func TestEmptyAnswerIsRequestIDOnly(t *testing.T) {
	b, _ := json.Marshal(emptyResponse{RequestID: "abc"})
	if string(b) != `{"requestId":"abc"}` {
		t.Errorf("%s", b)
	}
}
