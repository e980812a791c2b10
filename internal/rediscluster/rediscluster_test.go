package rediscluster

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

func TestBackoffDoublesTo5s(t *testing.T) {
	var b Backoff
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range want {
		if got := b.Next(); got != w*time.Millisecond {
			t.Fatalf("wait %d is %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.Reset()
	if got := b.Next(); got != 100*time.Millisecond {
		t.Errorf("after Reset the wait is %v, want 100ms", got)
	}
	stop := make(chan struct{})
	close(stop)
	if b.Wait(stop) {
		t.Error("Wait returned true with stop closed")
	}
}

func TestOutageLogsOncePerOutage(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	o := &Outage{Logger: zap.New(core), DownMsg: "down", UpMsg: "up", UpLevel: zapcore.InfoLevel}
	o.Up() // not down: nothing to say
	for range 3 {
		o.Down(errors.New("refused"))
	}
	if !o.IsDown() {
		t.Fatal("IsDown is false after Down")
	}
	if _, down := o.DownSince(); !down {
		t.Error("DownSince says up")
	}
	o.Up()
	o.Up()
	if upSince, down := o.State(); down || upSince.IsZero() {
		t.Errorf("State after Up: down %v, upSince %v", down, upSince)
	}
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.Level.String()+" "+e.Message)
	}
	if len(got) != 2 || got[0] != "warn down" || got[1] != "info up" {
		t.Errorf("logged %q, want one warn down and one info up", got)
	}
}

func TestThrottledLogCountsWhatItLeavesOut(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	l := &ThrottledLog{Logger: zap.New(core), Prefix: "p: ", Field: "channel", CountSkipped: true}
	for range 5 {
		l.Log("bad", "ch", nil)
	}
	if logs.Len() != 1 {
		t.Fatalf("%d lines within 10 s, want 1", logs.Len())
	}
	e := logs.All()[0]
	if e.Message != "p: bad" || e.ContextMap()["channel"] != "ch" {
		t.Errorf("logged %q %v", e.Message, e.ContextMap())
	}
	l.last = l.last.Add(-11 * time.Second) // as if 11 s had passed
	l.Log("bad", "ch", nil)
	if n := logs.All()[1].ContextMap()["similar_not_logged"]; n != int64(4) {
		t.Errorf("similar_not_logged is %v, want the 4 left out", n)
	}
}

func TestTallyAndAckWaiter(t *testing.T) {
	tally := NewTally(2)
	tally.Count()
	if tally.Full() {
		t.Fatal("full after 1 of 2")
	}
	tally.Count()
	select {
	case <-tally.Done:
	default:
		t.Fatal("Done open after 2 of 2")
	}
	tally.End() // already done: no second close
	if !tally.Full() {
		t.Error("not full after 2 of 2")
	}

	var count int
	var acks []string
	w := NewAckWaiter(func(n int) { count += n }, func(a socketio.Args) { acks = append(acks, string(a.JSON[0])) })
	w.ClientCount(3)
	w.Ack(json.RawMessage(`"yes"`), nil)
	w.Ack(nil, nil)
	if count != 3 || len(acks) != 2 || acks[0] != `"yes"` || acks[1] != "null" {
		t.Errorf("client count %d, acks %q; want 3 and [\"yes\" null]", count, acks)
	}
}
