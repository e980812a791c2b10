package caddysocketio

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/goleak"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

func parseRedisAdapter(t *testing.T, input string) (*RedisAdapter, error) {
	t.Helper()
	r := new(RedisAdapter)
	err := r.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return r, err
}

func TestRedisAdapterCaddyfile(t *testing.T) {
	for _, c := range []struct{ name, input, want string }{
		{"defaults", `redis`, `{}`},
		{"address as argument", `redis 10.0.0.1:6379`, `{"addresses":["10.0.0.1:6379"]}`},
		{"every option", "redis {\n address 127.0.0.1:6379\n username app\n password {env.REDIS_PASSWORD}\n db 2\n tls\n key_prefix myapp\n requests_timeout 2s\n}",
			`{"addresses":["127.0.0.1:6379"],"username":"app","password":"{env.REDIS_PASSWORD}","db":2,"tls":true,"key_prefix":"myapp","requests_timeout":2000000000}`},
		{"cluster addresses add up", "redis a:7000 {\n address b:7001 c:7002\n address d:7003\n}",
			`{"addresses":["a:7000","b:7001","c:7002","d:7003"]}`},
		{"URL", "redis {\n address rediss://user:secret@redis.example.com:6380/0\n}",
			`{"addresses":["rediss://user:secret@redis.example.com:6380/0"]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := parseRedisAdapter(t, c.input)
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

func TestRedisAdapterCaddyfileErrors(t *testing.T) {
	for _, c := range []struct{ name, input, want string }{
		{"unknown option", "redis {\n adress 127.0.0.1:6379\n}", `unknown option "adress"`},
		{"duplicate", "redis {\n db 1\n db 2\n}", "db given twice"},
		{"db not a number", "redis {\n db one\n}", `db "one" is not a database number`},
		{"negative db", "redis {\n db -1\n}", `db "-1"`},
		{"bad timeout", "redis {\n requests_timeout soon\n}", `requests_timeout "soon"`},
		{"tls with a value", "redis {\n tls yes\n}", `tls takes no value`},
		{"two passwords", "redis {\n password a b\n}", `password takes one value`},
		{"address without value", "redis {\n address\n}", "wrong argument count"},
		{"empty key_prefix", "redis {\n key_prefix \"\"\n}", "key_prefix must not be empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseRedisAdapter(t, c.input)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want one containing %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("error %q does not say where", err)
			}
		})
	}
}

func provisionRedisAdapter(t *testing.T, r *RedisAdapter) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	err := r.Provision(ctx)
	if err == nil {
		t.Cleanup(func() { _ = r.Cleanup() })
		err = r.Validate()
	}
	return err
}

// A bad address fails provisioning (and so `caddy validate`) with a clear
// message, without any Redis running.
func TestRedisAdapterBadAddressesFailValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		r    RedisAdapter
		want string
	}{
		{"no port", RedisAdapter{Addresses: []string{"localhost"}}, `redis address "localhost"`},
		{"port out of range", RedisAdapter{Addresses: []string{"127.0.0.1:70000"}}, `port "70000" is not a number from 1 to 65535`},
		{"bad URL scheme", RedisAdapter{Addresses: []string{"http://127.0.0.1:6379"}}, `redis address "http://127.0.0.1:6379"`},
		{"password hidden in errors", RedisAdapter{Addresses: []string{"redis://u:hunter2@host:6379/x"}}, `redis://[redacted]@host:6379/x`},
		{"db with a cluster", RedisAdapter{Addresses: []string{"a:7000", "b:7001"}, DB: 3}, "a Redis Cluster has only db 0"},
		{"unset variable", RedisAdapter{Addresses: []string{"{env.CADDY_SOCKETIO_TEST_UNSET}"}}, `redis address ""`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.r
			err := provisionRedisAdapter(t, &r)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// Placeholders are resolved at provision, and equal settings share one
// connection, which is what keeps subscriptions across a reload.
func TestRedisAdapterPlaceholdersAndPooling(t *testing.T) {
	t.Setenv("CADDY_SOCKETIO_TEST_REDIS", "127.0.0.1:1")
	t.Setenv("CADDY_SOCKETIO_TEST_PASSWORD", "s3cret")
	a := &RedisAdapter{Addresses: []string{"{env.CADDY_SOCKETIO_TEST_REDIS}"}, Password: "{env.CADDY_SOCKETIO_TEST_PASSWORD}"}
	if err := provisionRedisAdapter(t, a); err != nil {
		t.Fatal(err)
	}
	if got := a.client.Addresses; len(got) != 1 || got[0] != "127.0.0.1:1" || a.client.Password != "s3cret" {
		t.Errorf("resolved %v / %q", got, a.client.Password)
	}
	if strings.Contains(a.PoolKey(), "s3cret") {
		t.Errorf("pool key shows the password: %s", a.PoolKey())
	}
	b := &RedisAdapter{Addresses: []string{"127.0.0.1:1"}, Password: "s3cret"}
	if err := provisionRedisAdapter(t, b); err != nil {
		t.Fatal(err)
	}
	if a.group != b.group || a.AdapterFactory() == nil {
		t.Error("equal settings did not share the cluster connection")
	}
	c := &RedisAdapter{Addresses: []string{"127.0.0.1:1"}, Password: "s3cret", KeyPrefix: "other"}
	if err := provisionRedisAdapter(t, c); err != nil {
		t.Fatal(err)
	}
	if c.group == a.group || c.PoolKey() == a.PoolKey() {
		t.Error("a changed key_prefix kept the old connection")
	}
}

// A reload provisions the new config before cleaning up the old one: with
// the same settings the connection survives, and once the last config is
// gone nothing is left running.
func TestRedisAdapterReloadKeepsTheConnectionAndLeaksNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	old := &RedisAdapter{Addresses: []string{"127.0.0.1:1"}}
	if err := old.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	srv := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: old.AdapterFactory()})
	reloaded := &RedisAdapter{Addresses: []string{"127.0.0.1:1"}}
	if err := reloaded.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if reloaded.group != old.group {
		t.Fatal("a reload with the same settings made a new connection")
	}
	if _, ok := srv.Of("/late").Adapter().(*redisadapter.Adapter); !ok {
		t.Error("a namespace created after the reload did not get the Redis adapter")
	}
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdown); err != nil {
		t.Fatal(err)
	}
	if err := reloaded.Cleanup(); err != nil {
		t.Fatal(err)
	}
}

// A reload that changes the address moves the live server to the new
// settings; once the old config is gone nothing of it is left running.
func TestRedisAdapterReloadWithNewAddressMovesTheServer(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	old := &RedisAdapter{Addresses: []string{"127.0.0.1:1"}}
	if err := old.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	srv := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: old.AdapterFactory()})
	moved := &RedisAdapter{Addresses: []string{"127.0.0.1:2"}}
	if err := moved.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	moved.AdoptServer(srv)
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Of("/late").Adapter().(*redisadapter.Adapter); !ok {
		t.Error("a namespace created after the move did not get the Redis adapter")
	}
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdown); err != nil {
		t.Fatal(err)
	}
	if err := moved.Cleanup(); err != nil {
		t.Fatal(err)
	}
}

// The way the socketio directive reads `adapter redis {...}`: the module is
// registered under socketio.adapters and parses its own segment.
func TestRedisAdapterAsInlineModule(t *testing.T) {
	d := caddyfile.NewTestDispenser("adapter redis 127.0.0.1:6379 {\n key_prefix app\n}\nnext_directive")
	d.Next() // adapter
	if !d.NextArg() || d.Val() != "redis" {
		t.Fatal("no module name")
	}
	unm, err := caddyfile.UnmarshalModule(d, "socketio.adapters.redis")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(unm)
	if string(b) != `{"addresses":["127.0.0.1:6379"],"key_prefix":"app"}` {
		t.Errorf("got %s", b)
	}
}
