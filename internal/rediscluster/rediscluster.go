// Package rediscluster holds what the two Redis adapters (redisadapter,
// over pub/sub, and redisstreams, over a stream) do alike around their
// connection to Redis and their requests to the other servers: the outage
// log, the throttled log of bad messages, the reconnection backoff, and the
// routing of the answers to a broadcast with acknowledgements or to a
// request waiting for every other server. Each adapter keeps its own wire
// format and its own log texts; only the logic is here.
package rediscluster

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Outage logs once when Redis stops answering and once when it answers
// again, with the texts the adapter gives. IsDown is a load of an atomic:
// the adapters ask it on every message they send.
type Outage struct {
	Logger *zap.Logger
	// DownMsg is logged (at warn, with the error) when an outage begins;
	// UpMsg, at UpLevel, when it ends, with its length rounded to Round
	// (none when zero).
	DownMsg, UpMsg string
	UpLevel        zapcore.Level
	Round          time.Duration

	out     atomic.Bool
	mu      sync.Mutex
	since   time.Time // when the current outage began
	upSince time.Time // when the last outage ended
}

// Down records that Redis did not answer; the first call of an outage logs.
func (o *Outage) Down(err error) {
	if o.out.Load() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.out.Swap(true) {
		return
	}
	o.since = time.Now()
	o.Logger.Warn(o.DownMsg, zap.Error(err))
}

// Up records that Redis answered; the first call after an outage logs.
func (o *Outage) Up() {
	if !o.out.Load() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.out.Swap(false) {
		return
	}
	o.upSince = time.Now()
	d := time.Since(o.since)
	if o.Round > 0 {
		d = d.Round(o.Round)
	}
	if ce := o.Logger.Check(o.UpLevel, o.UpMsg); ce != nil {
		ce.Write(zap.Duration("outage", d))
	}
}

// IsDown tells whether Redis failed the last attempt.
func (o *Outage) IsDown() bool { return o.out.Load() }

// State tells when the last outage ended, and whether Redis is down now.
func (o *Outage) State() (upSince time.Time, down bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.upSince, o.out.Load()
}

// DownSince tells whether Redis is down now, and since when.
func (o *Outage) DownSince() (since time.Time, down bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.since, o.out.Load()
}

// ThrottledLog logs at warn at most once per 10 seconds, so that whoever
// can write to Redis cannot flood the log with bad messages.
type ThrottledLog struct {
	Logger *zap.Logger
	// Prefix starts every message; Field names where the message came
	// from (a channel, a stream entry). CountSkipped adds how many were
	// left out since the last one logged (similar_not_logged).
	Prefix, Field string
	CountSkipped  bool

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// Log logs msg about where unless one was logged less than 10 s ago.
func (t *ThrottledLog) Log(msg, where string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if now.Sub(t.last) < 10*time.Second {
		t.skipped++
		return
	}
	fields := []zap.Field{zap.String(t.Field, where), zap.Error(err)}
	if t.CountSkipped {
		fields = append(fields, zap.Int("similar_not_logged", t.skipped))
	}
	t.Logger.Warn(t.Prefix+msg, fields...)
	t.last, t.skipped = now, 0
}

// Backoff is the wait between two attempts to reach Redis: 100 ms, doubled
// at each failure up to 5 s.
type Backoff struct{ d time.Duration }

// Next is the wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	switch {
	case b.d == 0:
		b.d = 100 * time.Millisecond
	case b.d < 5*time.Second:
		b.d = min(2*b.d, 5*time.Second)
	}
	return b.d
}

// Wait sleeps Next; false when stop closes first.
func (b *Backoff) Wait(stop <-chan struct{}) bool {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}

// Reset starts the waits again from 100 ms, after a success.
func (b *Backoff) Reset() { b.d = 0 }

// AckWaiter is a broadcast with acknowledgements of ours: each other
// server answers with its client count, then each client's ack.
type AckWaiter struct {
	clientCount func(int)
	ack         func(socketio.Args)
	// Timer, when set, forgets the broadcast once its timeout is over.
	Timer *time.Timer
}

// NewAckWaiter passes the answers on to the broadcast's callbacks.
func NewAckWaiter(clientCount func(int), ack func(socketio.Args)) *AckWaiter {
	return &AckWaiter{clientCount: clientCount, ack: ack}
}

// ClientCount passes on how many clients another server reached.
func (w *AckWaiter) ClientCount(n int) { w.clientCount(n) }

// Ack passes on one client's answer: its first argument, null when it
// gave none (Node's undefined).
func (w *AckWaiter) Ack(arg json.RawMessage, attachments [][]byte) {
	w.ack(socketio.Args{JSON: []json.RawMessage{OrNull(arg)}, Attachments: attachments})
}

// Tally counts the answers to a request of ours sent to every other
// server. The adapter's mutex guards it.
type Tally struct {
	Want int           // answers expected: the server count, this one excluded
	Got  int           // answers counted
	Done chan struct{} // closed when Got reaches Want, or by End
}

// NewTally waits for want answers.
func NewTally(want int) Tally { return Tally{Want: want, Done: make(chan struct{})} }

// Full tells that every answer is in: a further one is not counted.
func (t *Tally) Full() bool { return t.Got >= t.Want }

// Count counts one answer, ending the wait at the last.
func (t *Tally) Count() {
	t.Got++
	if t.Got == t.Want {
		close(t.Done)
	}
}

// End ends the wait (the adapter closes), once.
func (t *Tally) End() {
	select {
	case <-t.Done:
	default:
		close(t.Done)
	}
}

// OrNull is raw, or null when it is missing (an answer without a value).
func OrNull(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return json.RawMessage("null")
	}
	return raw
}

// NumSub is PUBSUB NUMSUB of channel: how many connections subscribe to
// it. On a Redis Cluster each node counts only the subscribers connected
// to it (a PUBLISH reaches them all, a count does not), so the masters'
// counts are added up, as Node's adapters do; the error is then the first
// master's that failed, with the others' counts.
func NumSub(ctx context.Context, client redis.UniversalClient, channel string) (int, error) {
	if cc, ok := client.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		total := 0
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			n, err := node.PubSubNumSub(ctx, channel).Result()
			mu.Lock()
			total += int(n[channel])
			mu.Unlock()
			return err
		})
		return total, err
	}
	n, err := client.PubSubNumSub(ctx, channel).Result()
	return int(n[channel]), err
}
