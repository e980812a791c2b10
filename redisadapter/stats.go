package redisadapter

import (
	"sync/atomic"
	"time"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Stats are a Cluster's running totals, for metrics: atomic counters bumped
// by the publish loop and the requests, read at scrape time. A server
// moved to new settings (Group.Adopt) keeps its Stats, so the totals go on
// counting across a configuration reload.
type Stats struct {
	published atomic.Uint64
	dropped   atomic.Uint64
	requests  atomic.Uint64
	timeouts  atomic.Uint64
	// latency of requests, by bucket of LatencyBuckets (the last one
	// counts the slower ones), and its sum in nanoseconds.
	latency    [len(LatencyBuckets) + 1]atomic.Uint64
	latencySum atomic.Int64
}

// LatencyBuckets are the upper bounds, in seconds, of the request latency
// histogram of StatsSnapshot: from a round trip on a LAN to the default
// requests timeout of 5 s.
var LatencyBuckets = [...]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// StatsSnapshot is a copy of Stats at one moment.
type StatsSnapshot struct {
	// Published counts messages published to Redis; Dropped those that
	// were not (the queue was full, or Redis was down).
	Published, Dropped uint64
	// Requests counts requests to the other servers (fetchSockets, allRooms,
	// sockets, serverSideEmit with an ack) and Timeouts those that did not
	// get every answer within the requests timeout.
	Requests, Timeouts uint64
	// LatencyCounts[i] counts the requests that took at most
	// LatencyBuckets[i] (cumulative, as a Prometheus histogram);
	// LatencySum is their total duration in seconds.
	LatencyCounts [len(LatencyBuckets)]uint64
	LatencySum    float64
}

// Snapshot reads the totals.
func (st *Stats) Snapshot() StatsSnapshot {
	s := StatsSnapshot{
		Published:  st.published.Load(),
		Dropped:    st.dropped.Load(),
		Requests:   st.requests.Load(),
		Timeouts:   st.timeouts.Load(),
		LatencySum: time.Duration(st.latencySum.Load()).Seconds(),
	}
	var cum uint64
	for i := range s.LatencyCounts {
		cum += st.latency[i].Load()
		s.LatencyCounts[i] = cum
	}
	return s
}

// request counts a request that took d; timedOut: not every server
// answered in time.
func (st *Stats) request(d time.Duration, timedOut bool) {
	st.requests.Add(1)
	if timedOut {
		st.timeouts.Add(1)
	}
	i := 0
	for i < len(LatencyBuckets) && d.Seconds() > LatencyBuckets[i] {
		i++
	}
	st.latency[i].Add(1)
	st.latencySum.Add(int64(d))
}

// Stats returns the Cluster's totals.
func (c *Cluster) Stats() *Stats { return c.stats }

// StatsOf returns the totals of the Cluster that srv (a server using a
// Group's adapter) belongs to now, and false if it belongs to none.
func StatsOf(srv *socketio.Server) (*Stats, bool) {
	v, ok := homes.Load(srv)
	if !ok {
		return nil, false
	}
	return v.(*Cluster).stats, true
}
