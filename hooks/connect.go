package hooks

import (
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// onConnect is the namespace's asynchronous middleware: it asks the
// backend, on the connecting socket's own goroutine, whether the socket may
// connect, and applies the answer before the client sees its CONNECT.
func (h *Hooks) onConnect(s *socketio.Socket) error {
	r := h.cur.Load()
	if r == nil || !r.connect {
		return nil
	}
	sh, err := h.shakeOf(s, r)
	if err != nil {
		return r.refuse(s, &hookError{CodeUnavailable, "the connect hook failed", err})
	}
	env := describe(s, sh, h.newID(), "connect", time.Now().UnixMilli())
	body, err := encodeEnvelope(&env)
	if err != nil {
		return r.refuse(s, &hookError{CodeUnavailable, "the connect hook failed", err})
	}
	answer, herr := r.call(KindConnect, body, sh.forward)
	if herr != nil {
		return r.refuse(s, herr)
	}
	a, err := decodeConnectAnswer(answer)
	if err != nil {
		return r.refuse(s, &hookError{CodeBadAnswer, "the backend's answer is not valid", err})
	}
	if !*a.Accept {
		h.stats.outcome(KindConnect, OutcomeRefused)
		// The backend's own refusal: its message and data, as Node's
		// next(err) with err.data sends them.
		ce := &socketio.ConnectError{Message: a.Message}
		if len(a.Data) > 0 && !isNull(a.Data) {
			ce.Data = a.Data
		}
		if ce.Message == "" {
			ce.Message = "refused"
		}
		return ce
	}
	if len(a.Data) > 0 {
		s.SetData(nullable(a.Data))
	}
	if len(a.Meta) > 0 {
		s.SetMeta(jsonOrNil(a.Meta))
	}
	if len(a.Rooms) > 0 {
		s.Join(a.Rooms...)
	}
	h.stats.outcome(KindConnect, OutcomeOK)
	return nil
}

// refuse logs a failed connect hook and refuses the socket with a
// connect_error the client may retry: {"retryable": true, "code": ...}.
func (r *runner) refuse(s *socketio.Socket, herr *hookError) error {
	r.h.stats.failed(KindConnect, herr)
	r.log.Warn("connect hook failed; connection refused",
		zap.String("socket", s.ID()), zap.String("code", herr.Code), zap.Error(herr.cause))
	return &socketio.ConnectError{
		Message: herr.Message,
		Data:    map[string]any{"retryable": true, "code": herr.Code},
	}
}

// nullable is a JSON value for SetData: nil for null.
func nullable(raw json.RawMessage) any {
	if isNull(raw) {
		return nil
	}
	return raw
}

func jsonOrNil(raw json.RawMessage) json.RawMessage {
	if isNull(raw) {
		return nil
	}
	return raw
}
