package httpapi

import (
	"net/url"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// FuzzRequestDecoders feeds arbitrary bodies and queries to every decoder:
// none may panic, an accepted request must check as valid, and accepted
// arguments must encode as Socket.IO arguments.
func FuzzRequestDecoders(f *testing.F) {
	for _, seed := range []string{
		`{"event":"e","args":["x",{"_binary":"AAE="},[{"a":{"_binary":""}}]],"rooms":["r"],"except":["x"],"ack_timeout_ms":5}`,
		`{"rooms":["a"],"join":["b"]}`,
		`{"leave":["b"],"namespace":"/chat"}`,
		`{"close":true}`,
		`{"requests":[{"path":"/emit","body":{"event":"e"}},{"path":"/sockets","query":{"room":["a","b"],"limit":3}}]}`,
		`{"event":"e","args":[{"_binary":1}]}`,
		`{"event":"e","args":[1e400]}`,
		`[]`, `null`, `{"event":"e"} {}`,
	} {
		f.Add([]byte(seed), "namespace=/&room=a&limit=10&cursor=djE6YQ")
	}
	f.Fuzz(func(t *testing.T, body []byte, rawQuery string) {
		var emit emitRequest
		if decodeBody(body, &emit) == nil && emit.check() == nil {
			if args, e := emitArgs("args", emit.Args); e == nil {
				if _, err := socketio.NewArgs(args...); err != nil {
					t.Errorf("accepted args %s do not encode: %v", body, err)
				}
			}
		}
		var join joinRequest
		_ = decodeBody(body, &join)
		var leave leaveRequest
		_ = decodeBody(body, &leave)
		var disc disconnectRequest
		_ = decodeBody(body, &disc)
		var sse serverSideEmitRequest
		if decodeBody(body, &sse) == nil {
			_ = sse.check()
		}
		var batch batchRequest
		if decodeBody(body, &batch) == nil {
			for _, item := range batch.Requests {
				if v, e := batchQuery(item.Query, "q"); e == nil {
					_, _ = parseQuery(v, "namespace", "room", "limit", "cursor")
				}
			}
		}
		if v, err := url.ParseQuery(rawQuery); err == nil {
			if q, e := parseQuery(v, "namespace", "room", "limit", "cursor"); e == nil {
				if q.Limit < 1 || q.Limit > maxLimit {
					t.Errorf("limit %d accepted from %q", q.Limit, rawQuery)
				}
				_, _ = decodeCursor(q.Cursor)
			}
		}
	})
}
