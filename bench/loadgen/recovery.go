package main

// The recovery phase of compare.sh (issue 14) is the fanout twice, with
// -variant recovery-off and -variant recovery: the server stores every
// relayed event for connection state recovery in the second. Its figures
// are the fanout's and what the log of stored events costs in memory. The
// recovery-streams phase is the same through the Redis Streams adapter
// (-variant recovery-streams-off and recovery-streams): the stored events
// are the stream's entries, in Redis, so the server's memory growth is what
// it keeps beside them (compare.sh writes the stream's own size apart).
func init() {
	recovery := append(append([]figure(nil), figures["fanout"]...),
		figure{"server RSS growth per stored event (bytes)", rssPerSent})
	figures["fanout recovery"] = recovery
	figures["fanout recovery-off"] = recovery
	figures["fanout recovery-streams"] = recovery
	figures["fanout recovery-streams-off"] = recovery
}

// rssPerSent is the server's resident memory growth over the window per
// event sent: with recovery on, every event is kept in the log for 2
// minutes, longer than the window; with it off, the same figure shows what
// the fanout alone leaves behind.
func rssPerSent(r result) float64 {
	if r.Sent == 0 || r.RSSBefore == 0 {
		return notMeasured
	}
	return float64(r.RSSAfter-r.RSSBefore) / float64(r.Sent)
}
