package engine

import (
	"context"
	"time"
)

type pollDeadlineKey struct{}

// WithPollDeadline returns a copy of ctx under which a long-polling GET is
// answered, with a noop packet if nothing else is queued, no later than t.
//
// A long-poll waits up to a ping interval for something to send. An HTTP
// server whose write timeout is a hard ceiling (Caddy's is: a handler cannot
// raise it) would cut that wait and lose the poll; ending it a little before
// the ceiling lets the client poll again with nothing lost, as it does after
// any noop.
func WithPollDeadline(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, pollDeadlineKey{}, t)
}

// pollDeadline is the timer channel of the request's poll deadline, nil
// (never ready) when there is none. The caller stops the returned timer.
func pollDeadline(ctx context.Context) (<-chan time.Time, *time.Timer) {
	t, ok := ctx.Value(pollDeadlineKey{}).(time.Time)
	if !ok {
		return nil, nil
	}
	timer := time.NewTimer(time.Until(t))
	return timer.C, timer
}
