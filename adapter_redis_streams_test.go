package caddysocketio

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func parseStreamsAdapter(t *testing.T, input string) (*RedisStreamsAdapter, error) {
	t.Helper()
	r := new(RedisStreamsAdapter)
	err := r.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return r, err
}

func TestRedisStreamsAdapterCaddyfile(t *testing.T) {
	for _, c := range []struct{ name, input, want string }{
		{"defaults", `redis_streams`, `{}`},
		{"address as argument", `redis_streams 10.0.0.1:6379`, `{"addresses":["10.0.0.1:6379"]}`},
		{"every option", "redis_streams {\n address 127.0.0.1:6379\n username app\n password {env.REDIS_PASSWORD}\n db 2\n tls\n key_prefix myapp\n requests_timeout 2s\n stream_name events\n max_len 500\n session_key_prefix app:session:\n}",
			`{"addresses":["127.0.0.1:6379"],"username":"app","password":"{env.REDIS_PASSWORD}","db":2,"tls":true,"key_prefix":"myapp","requests_timeout":2000000000,"stream_name":"events","max_len":500,"session_key_prefix":"app:session:"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := parseStreamsAdapter(t, c.input)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(r)
			if string(b) != c.want {
				t.Errorf("got  %s\nwant %s", b, c.want)
			}
		})
	}
}

func TestRedisStreamsAdapterCaddyfileErrors(t *testing.T) {
	for _, c := range []struct{ name, input, want string }{
		{"unknown option", "redis_streams {\n stream socket.io\n}", `redis_streams adapter: unknown option "stream"; known: address`},
		{"duplicate own option", "redis_streams {\n max_len 1\n max_len 2\n}", "redis_streams adapter: max_len given twice"},
		{"duplicate connection option", "redis_streams {\n db 1\n db 2\n}", "redis_streams adapter: db given twice"},
		{"max_len not a number", "redis_streams {\n max_len many\n}", `max_len "many" is not a positive number`},
		{"max_len zero", "redis_streams {\n max_len 0\n}", `max_len "0"`},
		{"empty stream_name", "redis_streams {\n stream_name \"\"\n}", "stream_name must not be empty"},
		{"empty session_key_prefix", "redis_streams {\n session_key_prefix \"\"\n}", "session_key_prefix must not be empty"},
		{"two stream names", "redis_streams {\n stream_name a b\n}", `stream_name takes one value, got also "b"`},
		{"max_len without value", "redis_streams {\n max_len\n}", "wrong argument count"},
		{"bad db", "redis_streams {\n db -1\n}", `redis_streams adapter: db "-1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseStreamsAdapter(t, c.input)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want one containing %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("error %q does not say where", err)
			}
		})
	}
}

// Bad settings fail provisioning (and so `caddy validate`) with a clear
// message, without any Redis running; the password never shows.
func TestRedisStreamsAdapterValidateErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		r    RedisStreamsAdapter
		want string
	}{
		{"no port", RedisStreamsAdapter{RedisAdapter: RedisAdapter{Addresses: []string{"localhost"}}}, `redis_streams adapter (redis adapter: redis address "localhost"`},
		{"password hidden", RedisStreamsAdapter{RedisAdapter: RedisAdapter{Addresses: []string{"redis://u:hunter2@host:6379/x"}}}, `redis://[redacted]@host:6379/x`},
		{"negative max_len", RedisStreamsAdapter{MaxLen: -5}, "redis_streams adapter: max_len -5 must be positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.r
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err := r.Provision(ctx)
			if err == nil {
				_ = r.Cleanup()
				t.Fatalf("provisioned; want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// In a socketio block, the adapter adapts to the module's JSON.
func TestRedisStreamsAdapterInSocketioBlock(t *testing.T) {
	h, err := parse(t, "socketio {\n connection_state_recovery\n adapter redis_streams 127.0.0.1:6379 {\n max_len 100\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"adapter":"redis_streams","addresses":["127.0.0.1:6379"],"max_len":100}`
	if string(h.AdapterRaw) != want {
		t.Errorf("adapter JSON %s, want %s", h.AdapterRaw, want)
	}
}
