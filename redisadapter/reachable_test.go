package redisadapter

import (
	"strings"
	"testing"
)

// Reachable follows the connection to Redis: nil while it is up, an error
// saying how long it has been down during an outage, nil again once the
// subscriptions are back.
func TestReachableFollowsAnOutage(t *testing.T) {
	r := startRedis(t)
	g := startGoNode(t, r.Addr(), "/")
	a := g.io.Of("/").Adapter().(*Adapter)
	waitFor(t, "connected", func() bool { return a.Reachable() == nil })
	r.Kill()
	waitFor(t, "the outage is noticed", func() bool { return a.Reachable() != nil })
	if err := a.Reachable(); !strings.Contains(err.Error(), "Redis has been unreachable for") {
		t.Errorf("Reachable during the outage: %v", err)
	}
	r.Start()
	waitFor(t, "Redis is back", func() bool { return a.Reachable() == nil })
}
