package integration_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// README's handlePreflightRequest recipe: preflight_continue hands the
// preflight to Caddy's own header and respond.
func TestPreflightContinueWithHeaderAndRespond(t *testing.T) {
	site, origin := siteWith(t, `@preflight {
	method OPTIONS
	path /socket.io/*
}
header @preflight {
	>Access-Control-Allow-Methods "GET,POST"
	>Access-Control-Allow-Headers "my-custom-header"
	>Access-Control-Max-Age 600
}
socketio {
	cors {
		origin https://example.com
		credentials
		preflight_continue
	}
}
respond @preflight 204`)
	startCaddy(t, site)

	req, err := http.NewRequest(http.MethodOptions, origin+"/socket.io/?EIO=4&transport=polling", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "my-custom-header")
	resp, _ := do(t, req)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("preflight status %d, want respond's 204", resp.StatusCode)
	}
	for name, want := range map[string]string{
		"Access-Control-Allow-Origin":      "https://example.com",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET,POST",
		"Access-Control-Allow-Headers":     "my-custom-header",
		"Access-Control-Max-Age":           "600",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// A refused origin is logged once, at warn, with the fix; a page retrying
// every few seconds does not flood the log.
func TestRefusedOriginLoggedOnceWithHint(t *testing.T) {
	site, origin := siteWith(t, "socketio {\ncors {\norigin https://example.com https://admin.example.com\n}\n}")
	c := startCaddy(t, site)
	for range 3 {
		resp, body := httpGet(t, origin+"/socket.io/?EIO=4&transport=polling", http.Header{"Origin": {"http://localhost:3000"}})
		if resp.StatusCode != http.StatusForbidden || body != `{"code":4,"message":"Forbidden"}` {
			t.Fatalf("handshake from a refused origin: %d %q, want 403 {\"code\":4,\"message\":\"Forbidden\"}", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("refused origin got Access-Control-Allow-Origin %q", got)
		}
	}
	found := c.logEntries(func(e map[string]any) bool { return e["origin"] == "http://localhost:3000" })
	if len(found) != 1 {
		t.Fatalf("%d log entries name the refused origin, want 1:\n%s", len(found), c.logs.String())
	}
	e := found[0]
	if e["level"] != "warn" || !strings.Contains(fmt.Sprint(e["hint"]), `origin http://localhost:3000`) {
		t.Errorf("log entry %v: want level warn and a hint naming `origin http://localhost:3000`", e)
	}
}

// basic_auth comes before socketio in Caddy's directive order, so it guards
// the endpoint: handshakes and upgrades alike need the credentials.
func TestBasicAuthProtectsTheEndpoint(t *testing.T) {
	hash, err := runCaddyCommand(t.TempDir(), "", "hash-password", "--plaintext", "secret")
	if err != nil {
		t.Fatalf("caddy hash-password: %v\n%s", err, hash)
	}
	site, origin := siteWith(t, fmt.Sprintf("basic_auth {\nalice %s\n}\nsocketio", strings.TrimSpace(hash)))
	startCaddy(t, site)
	handshake := origin + "/socket.io/?EIO=4&transport=polling"

	if resp, _ := httpGet(t, handshake, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("handshake without credentials: %d, want 401", resp.StatusCode)
	}
	_, resp, err := dialEngine(t, "ws"+strings.TrimPrefix(origin, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("WebSocket without credentials: %v, response %v; want 401", err, resp)
	}
	req, err := http.NewRequest(http.MethodGet, handshake, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("alice", "secret")
	if resp, body := do(t, req); resp.StatusCode != http.StatusOK || !handshakeBody.MatchString(body) {
		t.Errorf("handshake with credentials: %d %q", resp.StatusCode, body)
	}
}
