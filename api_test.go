package caddysocketio

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// apiCall sends a request to the in-process Caddy and returns the status
// and body.
func apiCall(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestAPIFindsTheSocketIOServerByName(t *testing.T) {
	addr := inProcessCaddy(t)
	t.Setenv("TEST_SOCKETIO_API_KEY", "k-from-env")
	loadCaddyfile(t, site(addr, `
	socketio {
		name app
		max_payload 1KB
	}
	handle_path /api/* {
		socketio_api {
			server app
			key {env.TEST_SOCKETIO_API_KEY} other-key
		}
	}
	handle_path /orphan-api/* {
		socketio_api {
			server nope
		}
	}`))
	base := "http://" + addr
	c := startNode(t, "httpapi/testdata/clients.js", "URL="+base, "CLIENTS=a4:v4")
	c.expect(t, "connected", "a4")

	if status, body := apiCall(t, "POST", base+"/api/emit", "k-from-env", `{"event":"hi","args":[{"_binary":"AQ=="}]}`); status != 202 {
		t.Fatalf("emit: %d %s", status, body)
	}
	c.expect(t, "event", `a4 hi [{"type":"Buffer","data":[1]}]`)
	if status, body := apiCall(t, "GET", base+"/api/sockets/count", "other-key", ""); status != 200 || body != `{"count":1}` {
		t.Errorf("count with the second key: %d %s", status, body)
	}
	if status, body := apiCall(t, "GET", base+"/api/rooms", "wrong", ""); status != 401 {
		t.Errorf("wrong key: %d %s", status, body)
	}
	big := `{"event":"e","args":["` + strings.Repeat("x", 1100) + `"]}`
	if status, body := apiCall(t, "POST", base+"/api/emit", "k-from-env", big); status != 413 || !strings.Contains(body, "limit is 1000") {
		t.Errorf("a body over the server's max_payload (1KB): %d %s, want 413", status, body)
	}
	status, body := apiCall(t, "GET", base+"/orphan-api/rooms", "", "")
	if status != 404 || !strings.Contains(body, `no socketio handler named \"nope\" is running`) {
		t.Errorf("unknown server: %d %s, want 404 naming it", status, body)
	}
}

func TestAPIKeyFromAnUnsetVariableRefusesTheConfig(t *testing.T) {
	inProcessCaddy(t)
	a := &APIHandler{Keys: []string{"{env.TEST_SOCKETIO_API_KEY_UNSET}"}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	err := a.Provision(ctx)
	want := "socketio_api key 1 ({env.TEST_SOCKETIO_API_KEY_UNSET}) is empty once placeholders are resolved"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("provision: %v, want %q", err, want)
	}
}

func TestAPIKeysNeverReachTheLogsOrTheAdaptedConfig(t *testing.T) {
	t.Setenv("TEST_SOCKETIO_API_KEY", "secret-value-123")
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(":8080 {\n\tsocketio_api {\n\t\tkey {env.TEST_SOCKETIO_API_KEY}\n\t}\n}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "secret-value-123") || !strings.Contains(string(cfg), "{env.TEST_SOCKETIO_API_KEY}") {
		t.Errorf("the adapted JSON must keep the placeholder, not the key: %s", cfg)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
}

func TestAPIValidate(t *testing.T) {
	for _, tc := range []struct {
		a    APIHandler
		want string
	}{
		{APIHandler{Keys: []string{"k"}}, ""},
		{APIHandler{}, ""},
		{APIHandler{Keys: []string{"k", " "}}, "socketio_api key 2 is empty; give a key, or a placeholder such as {env.SOCKETIO_API_KEY}"},
	} {
		err := tc.a.Validate()
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.a, err, tc.want)
		}
	}
}
