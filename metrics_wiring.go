package caddysocketio

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-socketio/caddy-socketio/metrics"
)

// registerMetrics puts the package-level collector (package metrics) into
// the registry of the config being provisioned, which Caddy's `metrics`
// handler and the admin endpoint's /metrics serve. Every config registers
// it again; the live servers it reports outlive the config, so the values
// go on across reloads.
func registerMetrics(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	if err := metrics.Register(reg); err != nil {
		return fmt.Errorf("registering the Socket.IO metrics: %v", err)
	}
	return nil
}
