package redisadapter

import (
	"fmt"
	"time"
)

// Reachable returns nil while this server is connected to Redis, and
// otherwise an error saying since when it is not. The adapter itself falls
// back on this server's clients during an outage (an emit reaches them, a
// fetch lists them); a caller that must not act on part of the cluster
// only, such as an HTTP API whose client would rather retry later, asks
// first.
func (a *Adapter) Reachable() error {
	since, down := a.b().c.outage.DownSince()
	if !down {
		return nil
	}
	return fmt.Errorf("redisadapter: Redis has been unreachable for %v; messages to the other servers are lost until it is back", time.Since(since).Round(time.Millisecond))
}
