package redisstreams

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// sessionOfSocket finds the session Redis holds for socket id.
func sessionOfSocket(t *testing.T, rc *redis.Client, id string) (*session, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		keys, _ := rc.Keys(context.Background(), "sio:session:*").Result()
		for _, k := range keys {
			raw, err := rc.Get(context.Background(), k).Result()
			if err != nil {
				continue
			}
			if s, err := decodeSession(raw); err == nil && s.Sid == id {
				return s, raw
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session of socket %s in Redis (keys %q)", id, keys)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func authJSON(pid, offset string) string {
	b, _ := json.Marshal(map[string]string{"pid": pid, "offset": offset})
	return string(b)
}

// connectWith runs a client with auth and returns its first connect line.
func connectWith(t *testing.T, url, auth string) map[string]any {
	t.Helper()
	c, _ := startNode(t, "client.js", "URL="+url, "AUTH="+auth)
	m, _ := c.Wait(t, 0, "connect", testpeer.Has("connect"))
	return m
}

// A forged pid, a malformed or huge offset: a fresh socket, and no crash.
func TestForgedPidOrBadOffsetGetsAFreshSocket(t *testing.T) {
	redisAddr, _ := startRedis(t)
	goN := startGoNode(t, redisAddr, nil)
	url := "http://" + goN.addr
	for _, auth := range []string{
		authJSON("forged-pid", "1-0"),
		authJSON("forged-pid", strings.Repeat("9", 5000)),
		authJSON("forged-pid", "99999999999999999999999-0"),
		authJSON("forged-pid", "01-0"),
		`{"pid":"forged-pid","offset":42}`,
		`{"pid":["x"]}`,
	} {
		m := connectWith(t, url, auth)
		if m["recovered"] != false {
			t.Errorf("auth %s: %v, want a fresh socket", auth, m)
		}
	}
}

// The pid of a socket connected right now gets a fresh socket, and the
// session stays with its owner; a real pid with a wrong offset does not
// cost the owner its session either, and the owner recovers afterwards.
func TestPidOfConnectedSocketOrWrongOffsetLeavesTheSessionToItsOwner(t *testing.T) {
	redisAddr, rc := startRedis(t)
	goN := startGoNode(t, redisAddr, nil)
	proxy := testpeer.StartCutProxy(t, goN.addr)
	owner, _ := startNode(t, "client.js", "URL="+proxy.URL())
	first, next := owner.Wait(t, 0, "connect", testpeer.Has("connect"))
	id := first["connect"].(string)
	goN.waitNote(t, "connect "+id)
	_ = goN.io.To("room1").Emit("before", 1)
	ev, next := owner.Wait(t, next, "before", isEvent("before"))
	args := ev["args"].([]any)
	offset := args[len(args)-1].(string)
	sess, _ := sessionOfSocket(t, rc, id)
	if !sess.Connected || sess.Node == "" {
		t.Fatalf("session of a connected socket: %+v, want connected with the node's uid", sess)
	}

	// Connected right now: a thief gets a fresh socket.
	if m := connectWith(t, "http://"+goN.addr, authJSON(sess.Pid, offset)); m["recovered"] != false || m["connect"] == id {
		t.Errorf("replaying a connected socket's pid gave %v, want a fresh socket", m)
	}
	if s := goN.io.Of("/").Socket(id); s == nil || !s.Connected() {
		t.Error("the owner's socket is gone")
	}

	// Disconnected: a wrong offset gets a fresh socket and leaves the
	// session in place.
	proxy.Cut()
	goN.waitNote(t, "disconnect "+id)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s, _ := sessionOfSocket(t, rc, id); !s.Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session still says connected after the drop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, wrong := range []string{"1-0", "99999999999999-0"} {
		if m := connectWith(t, "http://"+goN.addr, authJSON(sess.Pid, wrong)); m["recovered"] != false {
			t.Errorf("offset %s: %v, want a fresh socket", wrong, m)
		}
	}
	if n, _ := rc.Exists(context.Background(), "sio:session:"+sess.Pid).Result(); n != 1 {
		t.Fatal("a wrong offset deleted the owner's session")
	}
	proxy.Restore()
	back, _ := owner.Wait(t, next, "reconnect", testpeer.Has("connect"))
	if back["connect"] != id || back["recovered"] != true {
		t.Errorf("the owner came back as %v, want %s recovered", back, id)
	}
	// Once recovered, its pid is a connected socket's again.
	if m := connectWith(t, "http://"+goN.addr, authJSON(sess.Pid, offset)); m["recovered"] != false {
		t.Errorf("replaying a recovered socket's pid gave %v, want a fresh socket", m)
	}
}

// With Redis down a reconnecting client gets a fresh socket, and the
// outage is logged once.
func TestRedisDownGivesAFreshSocketLoggedOnce(t *testing.T) {
	redisAddr, _, kill := startKillableRedis(t)
	core, logs := observer.New(zapcore.WarnLevel)
	goN := startGoNode(t, redisAddr, zap.New(core))
	proxy := testpeer.StartCutProxy(t, goN.addr)
	client, _ := startNode(t, "client.js", "URL="+proxy.URL())
	first, next := client.Wait(t, 0, "connect", testpeer.Has("connect"))
	id := first["connect"].(string)
	goN.waitNote(t, "connect "+id)
	_ = goN.io.To("room1").Emit("before", 1)
	_, next = client.Wait(t, next, "before", isEvent("before"))
	proxy.Cut()
	goN.waitNote(t, "disconnect "+id)
	kill()
	// A broadcast while Redis is down finds the outage at the latest.
	for i := 0; logs.FilterMessageSnippet("Redis unreachable").Len() == 0; i++ {
		if i == 1000 {
			t.Fatal("the outage was not logged")
		}
		_ = goN.io.To("room1").Emit("during", i)
		time.Sleep(10 * time.Millisecond)
	}
	proxy.Restore()
	back, _ := client.Wait(t, next, "reconnect", testpeer.Has("connect"))
	if back["recovered"] != false || back["connect"] == id {
		t.Errorf("with Redis down the client came back as %v, want a fresh socket", back)
	}
	if n := logs.FilterMessageSnippet("Redis unreachable").Len(); n != 1 {
		t.Errorf("the outage was logged %d times, want once", n)
	}
}
