package socketio

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

var ackPacket = regexp.MustCompile(`^42(\d+)\["q",1\]$`)

// answer reads an event with an ack id and acknowledges it with arg.
func (c *rawClient) answer(arg string) {
	c.t.Helper()
	got := c.read()
	m := ackPacket.FindStringSubmatch(got)
	if m == nil {
		c.t.Fatalf("got %q, want an event with an ack id", got)
	}
	c.send("43" + m[1] + "[" + arg + "]")
}

func TestBroadcastWithAckCollectsEveryAnswer(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	clients, _ := connectRaw(t, ts, 2)
	done := make(chan []Args, 1)
	go func() {
		res, err := ts.io.Of("/").EmitWithAck(context.Background(), "q", 1)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	clients[0].answer(`"a"`)
	clients[1].answer(`"b"`)
	res := <-done
	got := map[string]bool{}
	for _, a := range res {
		s, _ := a.String(0)
		got[s] = true
	}
	if len(res) != 2 || !got["a"] || !got["b"] {
		t.Errorf("answers %v", res)
	}
}

func TestBroadcastWithAckTimesOutWithPartialAnswers(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	clients, _ := connectRaw(t, ts, 2)
	done := make(chan error, 1)
	var res []Args
	go func() {
		var err error
		res, err = ts.io.Of("/").To().Timeout(300*time.Millisecond).EmitWithAck(context.Background(), "q", 1)
		done <- err
	}()
	clients[0].answer(`"a"`)
	clients[1].read() // never answered
	err := <-done
	if !errors.Is(err, context.DeadlineExceeded) || len(res) != 1 {
		t.Errorf("got %d answers and %v, want 1 and a deadline error", len(res), err)
	}
}

func TestSocketEmitWithAckFailsWhenTheClientLeaves(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	clients, sockets := connectRaw(t, ts, 1)
	done := make(chan error, 1)
	go func() {
		_, err := sockets[0].EmitWithAck(context.Background(), "q", 1)
		done <- err
	}()
	clients[0].read()
	clients[0].send("41")
	if err := <-done; !errors.Is(err, ErrDisconnected) {
		t.Errorf("got %v, want ErrDisconnected", err)
	}
}

func TestSocketEmitWithAckGivesUpWhenTheContextEnds(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	clients, sockets := connectRaw(t, ts, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := sockets[0].EmitWithAck(ctx, "q", 1)
		done <- err
	}()
	got := clients[0].read() // read, never answered
	if !ackPacket.MatchString(got) {
		t.Fatalf("got %q", got)
	}
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	// A late answer is ignored, and the socket works on.
	clients[0].send("43" + ackPacket.FindStringSubmatch(got)[1] + "[1]")
	if err := sockets[0].Emit("after", 2); err != nil {
		t.Fatal(err)
	}
	if got := clients[0].read(); got != `42["after",2]` {
		t.Errorf("then got %q", got)
	}
}
