package hooks_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/caddy-socketio/caddy-socketio/hooks"
)

// A Go backend's connect endpoint: it verifies the signature over the
// exact body bytes, then decides.
func ExampleVerify() {
	secrets := []string{os.Getenv("SOCKETIO_HOOK_SECRET"), os.Getenv("SOCKETIO_HOOK_SECRET_OLD")}
	http.HandleFunc("POST /socketio/connect", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		if err := hooks.Verify(r.Header.Get(hooks.SignatureHeader), body, secrets, 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var req struct {
			Handshake struct {
				Auth struct {
					Token string `json:"token"`
				} `json:"auth"`
			} `json:"handshake"`
		}
		_ = json.Unmarshal(body, &req)
		w.Header().Set("Content-Type", "application/json")
		if req.Handshake.Auth.Token == "" {
			_ = json.NewEncoder(w).Encode(map[string]any{"accept": false, "message": "not authorized", "data": map[string]any{"login": "/login"}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"accept": true, "rooms": []string{"lobby"}, "data": map[string]any{"user": 42}})
	})
}
