package hooks

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// maxQueuedEvents bounds the events of one socket waiting for the backend;
// past it, an event fails at once with code "queue_full".
var maxQueuedEvents = 64

// eventQueue holds the hooked events of one socket, sent one at a time in
// the order the client emitted them. It exists, with its goroutine, only
// while it holds events. Hooks.mu guards it.
type eventQueue struct {
	events []*socketio.Event
}

// onEvent is the namespace's event observer, on the client's read loop:
// it queues a hooked event and returns at once.
func (h *Hooks) onEvent(e *socketio.Event) {
	r := h.cur.Load()
	if r == nil || !r.matches(e.Name) {
		return
	}
	s := e.Socket()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	q := h.queues[s]
	if q != nil && len(q.events) >= maxQueuedEvents {
		h.mu.Unlock()
		r.fail(e, &hookError{CodeQueueFull, "too many events waiting for the backend",
			fmt.Errorf("%d events of this socket already wait", maxQueuedEvents)})
		return
	}
	if q == nil {
		q = &eventQueue{}
		if !h.goLocked(func() { h.drain(s, q) }) {
			h.mu.Unlock()
			return
		}
		h.queues[s] = q
	}
	q.events = append(q.events, e)
	h.mu.Unlock()
}

// drain sends the socket's queued events until none is left.
func (h *Hooks) drain(s *socketio.Socket, q *eventQueue) {
	for {
		h.mu.Lock()
		if len(q.events) == 0 {
			delete(h.queues, s)
			h.mu.Unlock()
			return
		}
		e := q.events[0]
		q.events[0] = nil
		q.events = q.events[1:]
		h.mu.Unlock()
		h.sendEvent(e)
	}
}

// sendEvent calls the event hook for e with the configuration of now, and
// applies the answer: actions first, then the ack, then a disconnect.
func (h *Hooks) sendEvent(e *socketio.Event) {
	r := h.cur.Load()
	if r == nil || !r.matches(e.Name) {
		// Reconfigured while the event waited.
		h.stats.outcome(KindEvent, OutcomeUnavailable)
		if e.WantsAck() {
			_ = e.Ack(errorAck(&hookError{Code: CodeUnavailable, Message: "the event is no longer sent to the backend"}))
		}
		return
	}
	s := e.Socket()
	args, err := argsJSON(e.Args)
	if err != nil {
		r.fail(e, &hookError{CodeUnavailable, "the event hook failed", err})
		return
	}
	sh, err := h.shakeOf(s, r)
	if err != nil {
		r.fail(e, &hookError{CodeUnavailable, "the event hook failed", err})
		return
	}
	body, err := encodeEvent(&eventRequest{
		envelope: describe(s, sh, h.newID(), "event", time.Now().UnixMilli()),
		Event:    e.Name, Args: args, Ack: e.WantsAck(),
	})
	if err != nil {
		r.fail(e, &hookError{CodeUnavailable, "the event hook failed", err})
		return
	}
	answer, herr := r.call(KindEvent, body, sh.forward)
	if herr != nil {
		r.fail(e, herr)
		return
	}
	a, err := decodeEventAnswer(answer)
	if err != nil {
		r.fail(e, &hookError{CodeBadAnswer, "the backend's answer is not valid", err})
		return
	}
	r.apply(s, a)
	h.stats.outcome(KindEvent, OutcomeOK)
	if e.WantsAck() {
		if err := e.Ack(a.ackArgs...); err != nil && s.Connected() {
			r.log.Warn("event hook answer not sent as the ack", zap.String("socket", s.ID()), zap.String("event", e.Name), zap.Error(err))
		}
	}
	if a.Disconnect {
		s.Disconnect(false)
	}
}

// apply carries out the actions of an event answer, in the order data,
// meta, join, leave, emit: an emit to a room just joined reaches the
// sender.
func (r *runner) apply(s *socketio.Socket, a *eventAnswer) {
	if len(a.Data) > 0 {
		s.SetData(nullable(a.Data))
	}
	if len(a.Meta) > 0 {
		s.SetMeta(jsonOrNil(a.Meta))
	}
	if len(a.Join) > 0 {
		s.Join(a.Join...)
	}
	for _, room := range a.Leave {
		s.Leave(room)
	}
	nsp := s.Namespace()
	for _, em := range a.Emit {
		if err := nsp.To(em.To...).Except(em.Except...).Emit(em.Event, em.args...); err != nil {
			r.log.Warn("emit of an event answer failed", zap.String("socket", s.ID()), zap.String("event", em.Event), zap.Error(err))
		}
	}
}

// fail logs a failed event hook and answers the client's callback, if any,
// with {"error": {"code", "message"}}, so that it learns at once.
func (r *runner) fail(e *socketio.Event, herr *hookError) {
	r.h.stats.failed(KindEvent, herr)
	r.log.Warn("event hook failed", zap.String("socket", e.Socket().ID()), zap.String("event", e.Name),
		zap.String("code", herr.Code), zap.Error(herr.cause))
	if e.WantsAck() {
		_ = e.Ack(errorAck(herr))
	}
}

func errorAck(herr *hookError) map[string]any {
	return map[string]any{"error": map[string]string{"code": herr.Code, "message": herr.Message}}
}
