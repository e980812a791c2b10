package main

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// result is the one JSON line a scenario prints. Fields a scenario does not
// measure are left out.
type result struct {
	Scenario  string  `json:"scenario"`
	Server    string  `json:"server,omitempty"` // the -label flag: node, caddy, ...
	Variant   string  `json:"variant,omitempty"`
	Protocol  int     `json:"eio"`
	Transport string  `json:"transport"`
	N         int     `json:"n"` // connections (conns, fanout) or concurrent clients (echo, handshake, polling)
	Seconds   float64 `json:"seconds"`

	Ops       int64   `json:"ops"` // acks, deliveries, handshakes, round trips, or connections held
	OpsPerSec float64 `json:"ops_per_s"`
	Errors    int64   `json:"errors"`
	FirstErr  string  `json:"first_error,omitempty"`

	Up         int   `json:"up,omitempty"`         // conns: connections still open after the hold
	Heartbeats int   `json:"heartbeats,omitempty"` // conns: connections that completed a heartbeat during the hold
	Sent       int64 `json:"sent,omitempty"`       // fanout: events the sender emitted
	Lost       int64 `json:"lost"`                 // fanout: deliveries that never arrived

	// OfferedPerSec: openloop's fixed offered rate (-offered), events per
	// second over all clients.
	OfferedPerSec float64 `json:"offered_per_s,omitempty"`

	// EmitsPerSec and CPUusPerEmit: a fanout sent by an emitter (-emit-via
	// api or redis-emitter), per event it sent rather than per delivery.
	EmitVia      string  `json:"emit_via,omitempty"`
	EmitsPerSec  float64 `json:"emits_per_s,omitempty"`
	CPUusPerEmit float64 `json:"cpu_us_per_emit,omitempty"`

	P50us int64 `json:"p50_us,omitempty"`
	P99us int64 `json:"p99_us,omitempty"`
	// P999us: the 99.9th percentile (openloop), where one stall in a
	// thousand operations shows.
	P999us int64 `json:"p999_us,omitempty"`
	MaxUs  int64 `json:"max_us,omitempty"`

	ServerCPUus int64   `json:"server_cpu_us,omitempty"` // CPU the server spent in the measured window
	ServerSysus int64   `json:"server_sys_us,omitempty"` // the kernel's part of it (syscalls, loopback TCP)
	CPUusPerOp  float64 `json:"cpu_us_per_op,omitempty"`
	// ServerWrites counts the server's write system calls in the window.
	ServerWrites int64   `json:"server_writes,omitempty"`
	RSSBefore    int64   `json:"rss_before,omitempty"`
	RSSAfter     int64   `json:"rss_after,omitempty"`
	BytesPerOp   float64 `json:"bytes_per_op,omitempty"` // conns: resident bytes per connection; handshake: per abandoned session

	HeartbeatCPUus float64 `json:"heartbeat_cpu_us,omitempty"` // conns: server CPU per connection per ping interval while idle

	// Nodes splits a cross-node fanout (-url2) by server node, -url's (the
	// sender's) first; the figures above are both nodes together.
	Nodes []nodeResult `json:"nodes,omitempty"`

	// Refused counts the connect_error answers a storm's clients got
	// before they connected (each then retried).
	Refused int64 `json:"refused,omitempty"`
	// Hook is what the hook backend saw in the window (-hook-backend).
	Hook *hookStats `json:"hook,omitempty"`

	// Stress holds what the stress scenarios (stress.go) measure besides.
	Stress *stressResult `json:"stress,omitempty"`

	// LatencyHistogram is the whole latency distribution behind P50us and
	// P99us, for bench/charts' CDFs: one [µs, count] pair per non-empty
	// bucket, in increasing order, µs being the value a quantile reports
	// for that bucket (its middle, about 3% wide). Last, so that the line's
	// first 240 characters, which compare.sh prints, hold the figures.
	LatencyHistogram [][2]int64 `json:"latency_histogram,omitempty"`
}

// nodeResult is one server node's share of a cross-node fanout: the
// deliveries to the receivers connected to it, and its own process's cost.
type nodeResult struct {
	Receivers    int     `json:"receivers"`
	Ops          int64   `json:"ops"` // deliveries to this node's receivers
	Lost         int64   `json:"lost"`
	P99us        int64   `json:"p99_us,omitempty"` // of this node's receivers
	ServerCPUus  int64   `json:"server_cpu_us,omitempty"`
	ServerSysus  int64   `json:"server_sys_us,omitempty"`
	CPUusPerOp   float64 `json:"cpu_us_per_op,omitempty"` // this node's CPU per delivery it made
	ServerWrites int64   `json:"server_writes,omitempty"`
	RSSBefore    int64   `json:"rss_before,omitempty"`
	RSSAfter     int64   `json:"rss_after,omitempty"`
}

// errorCount gathers a scenario's failures from all its client goroutines,
// keeping the first message for the result line.
type errorCount struct {
	mu    sync.Mutex
	n     int64  // guarded by mu
	first string // guarded by mu
}

func (e *errorCount) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == 0 {
		e.first = err.Error()
	}
	e.n++
}

func (e *errorCount) report(r *result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.Errors += e.n
	if r.FirstErr == "" {
		r.FirstErr = e.first
	}
}

// measure fills the server-side figures from two samples of the server's
// process tree (none when no -pid was given), per node too when r.Nodes
// has their operations.
func (r *result) measure(before, after *serverSample, window time.Duration) {
	r.Seconds = window.Seconds()
	if r.Seconds > 0 {
		r.OpsPerSec = float64(r.Ops) / r.Seconds
	}
	if before == nil || after == nil {
		return
	}
	r.ServerCPUus = (after.CPU - before.CPU).Microseconds()
	r.ServerSysus = (after.Sys - before.Sys).Microseconds()
	r.ServerWrites = after.Writes - before.Writes
	if r.Ops > 0 {
		r.CPUusPerOp = float64(r.ServerCPUus) / float64(r.Ops)
	}
	r.RSSBefore, r.RSSAfter = before.RSS, after.RSS
	for i := range r.Nodes {
		if i >= len(before.nodes) || i >= len(after.nodes) {
			break
		}
		n, b, a := &r.Nodes[i], before.nodes[i], after.nodes[i]
		n.ServerCPUus = (a.CPU - b.CPU).Microseconds()
		n.ServerSysus = (a.Sys - b.Sys).Microseconds()
		n.CPUusPerOp = perOp(n.ServerCPUus, n.Ops)
		n.ServerWrites = a.Writes - b.Writes
		n.RSSBefore, n.RSSAfter = b.RSS, a.RSS
	}
}

func (r *result) latencies(h *histogram) {
	r.P50us = h.quantile(0.50)
	r.P99us = h.quantile(0.99)
	r.P999us = h.quantile(0.999)
	r.MaxUs = h.max
	r.LatencyHistogram = h.buckets()
}

func (r *result) write(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
