package hooks

import (
	"sync/atomic"
	"time"
)

// Kind is a hook: what a request is for.
type Kind int

// The hooks, in the order of Kinds.
const (
	KindConnect Kind = iota
	KindEvent
	KindNotify
)

// Kinds are the names of the hooks, as in their request paths.
var Kinds = [...]string{KindConnect: "connect", KindEvent: "event", KindNotify: "notify"}

// Outcome is how a hook call ended.
type Outcome int

// The outcomes, in the order of Outcomes. The failures are the error codes
// (CodeTimeout, ...); OutcomeRefused is a connect hook answered
// {"accept": false}.
const (
	OutcomeOK Outcome = iota
	OutcomeRefused
	OutcomeTimeout
	OutcomeUnavailable
	OutcomeBadAnswer
	OutcomeOverloaded
	OutcomeQueueFull
	numOutcomes
)

// Outcomes are the names of the outcomes.
var Outcomes = [numOutcomes]string{
	OutcomeOK: "ok", OutcomeRefused: "refused", OutcomeTimeout: CodeTimeout, OutcomeUnavailable: CodeUnavailable,
	OutcomeBadAnswer: CodeBadAnswer, OutcomeOverloaded: CodeOverloaded, OutcomeQueueFull: CodeQueueFull,
}

// Possible reports whether a call of hook k can end with o: only a connect
// hook is refused, only an event waits in a queue that can be full, and a
// notify answer's body is never read, so it is never a bad answer. A
// metric need not show the series that stay at zero forever.
func (k Kind) Possible(o Outcome) bool {
	switch o {
	case OutcomeRefused:
		return k == KindConnect
	case OutcomeQueueFull:
		return k == KindEvent
	case OutcomeBadAnswer:
		return k != KindNotify
	}
	return o >= 0 && o < numOutcomes
}

// LatencyBuckets are the upper bounds, in seconds, of the request latency
// histograms of StatsSnapshot: from a backend on the same machine to the
// default timeout of 5 s.
var LatencyBuckets = [...]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// Stats are the running totals of one Hooks, for metrics: atomic counters
// bumped once per hook call, read at scrape time. They belong to the
// Hooks, so they go on counting across SetConfig (a configuration reload).
type Stats struct {
	hooks   [len(Kinds)]kindStats
	dropped atomic.Uint64 // notifications dropped from full queues
}

type kindStats struct {
	outcomes [numOutcomes]atomic.Uint64
	// latency of requests, by bucket of LatencyBuckets (the last one
	// counts the slower ones), and its sum in nanoseconds.
	latency    [len(LatencyBuckets) + 1]atomic.Uint64
	latencySum atomic.Int64
}

// StatsSnapshot is a copy of Stats at one moment, by Kind.
type StatsSnapshot struct {
	Hooks [len(Kinds)]HookStats
	// DroppedNotifications counts the notifications dropped from full
	// queues (as Hooks.DroppedNotifications).
	DroppedNotifications uint64
}

// HookStats are the totals of one hook.
type HookStats struct {
	// Outcomes counts the hook calls by how they ended. A call is one
	// socket's connect, one event, or one request of a notification batch
	// (a retried batch counts once per attempt). A call can fail before
	// any request (an event refused with queue_full, an event left waiting
	// while the hooks were turned off: unavailable).
	Outcomes [numOutcomes]uint64
	// Requests counts the requests that got one of the MaxConcurrent
	// slots; LatencyCounts[i] those that took at most LatencyBuckets[i]
	// (cumulative, as a Prometheus histogram), from the start of the call
	// (the wait for the slot included) to the answer read; LatencySum is
	// their total duration in seconds.
	Requests      uint64
	LatencyCounts [len(LatencyBuckets)]uint64
	LatencySum    float64
}

// Stats returns h's totals.
func (h *Hooks) Stats() *Stats { return &h.stats }

// Snapshot reads the totals.
func (st *Stats) Snapshot() StatsSnapshot {
	s := StatsSnapshot{DroppedNotifications: st.dropped.Load()}
	for k := range st.hooks {
		ks, out := &st.hooks[k], &s.Hooks[k]
		for o := range ks.outcomes {
			out.Outcomes[o] = ks.outcomes[o].Load()
		}
		var cum uint64
		for i := range out.LatencyCounts {
			cum += ks.latency[i].Load()
			out.LatencyCounts[i] = cum
		}
		out.Requests = cum + ks.latency[len(LatencyBuckets)].Load()
		out.LatencySum = time.Duration(ks.latencySum.Load()).Seconds()
	}
	return s
}

// outcome counts a call of hook k that ended with o.
func (st *Stats) outcome(k Kind, o Outcome) { st.hooks[k].outcomes[o].Add(1) }

// failed counts a call of hook k that failed with herr.
func (st *Stats) failed(k Kind, herr *hookError) { st.outcome(k, outcomeOf(herr.Code)) }

// request counts a request of hook k that took d.
func (st *Stats) request(k Kind, d time.Duration) {
	ks := &st.hooks[k]
	i := 0
	for i < len(LatencyBuckets) && d.Seconds() > LatencyBuckets[i] {
		i++
	}
	ks.latency[i].Add(1)
	ks.latencySum.Add(int64(d))
}

func outcomeOf(code string) Outcome {
	switch code {
	case CodeTimeout:
		return OutcomeTimeout
	case CodeBadAnswer:
		return OutcomeBadAnswer
	case CodeOverloaded:
		return OutcomeOverloaded
	case CodeQueueFull:
		return OutcomeQueueFull
	}
	return OutcomeUnavailable
}
