package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// reachable is a cluster adapter that can tell whether it reaches the
// other servers (redisadapter.Adapter). While it does not, operations
// answer 503 rather than acting on this server's clients only: the
// backend retries later and does the whole thing once.
type reachable interface{ Reachable() error }

// ackingServerSideEmit is a cluster adapter that collects the other
// servers' acknowledgements of a server-side emit (redisadapter.Adapter).
type ackingServerSideEmit interface {
	ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error)
}

const clusterRetryAfter = 5 // seconds: Redis reconnects within 5 s of its return

// namespace finds the request's namespace ("/" by default) and checks that
// its cluster is reachable.
func namespace(t Target, name string) (*socketio.Namespace, *apiError) {
	if name == "" {
		name = "/"
	}
	nsp, ok := t.Server.LookupNamespace(name)
	if !ok {
		return nil, errorf(http.StatusNotFound, "unknown_namespace",
			"namespace %q does not exist on this server; configure it in the socketio handler (namespace %s { ... }) or create it in the application", name, name)
	}
	if e := clusterError(nsp, nil); e != nil {
		return nil, e
	}
	return nsp, nil
}

// clusterError is the 503 of a namespace whose cluster is unreachable, or
// of err, an adapter's error (a request to the other servers that timed
// out, for one).
func clusterError(nsp *socketio.Namespace, err error) *apiError {
	if r, ok := nsp.Adapter().(reachable); ok {
		if down := r.Reachable(); down != nil {
			return &apiError{status: http.StatusServiceUnavailable, code: "cluster_unreachable",
				message: fmt.Sprintf("namespace %q: %v; nothing was done, retry later", nsp.Name(), down), retryAfter: clusterRetryAfter}
		}
	}
	if err != nil {
		return &apiError{status: http.StatusServiceUnavailable, code: "cluster_unavailable",
			message: fmt.Sprintf("namespace %q: %v", nsp.Name(), err), retryAfter: clusterRetryAfter}
	}
	return nil
}

func (tg *target) operator(nsp *socketio.Namespace) *socketio.BroadcastOperator {
	return nsp.To(tg.Rooms...).Except(tg.Except...)
}

type ackAnswer struct {
	Clients  int               `json:"clients"`
	Acks     []json.RawMessage `json:"acks"`
	TimedOut bool              `json:"timed_out"`
}

func (h *Handler) emit(r *http.Request, t Target, _ query, body []byte) response {
	var req emitRequest
	if e := decodeBody(body, &req); e != nil {
		return errorResponse(e)
	}
	if e := req.check(); e != nil {
		return errorResponse(e)
	}
	args, e := emitArgs("args", req.Args)
	if e != nil {
		return errorResponse(e)
	}
	nsp, e := namespace(t, req.Namespace)
	if e != nil {
		return errorResponse(e)
	}
	op := req.operator(nsp)
	if req.Volatile {
		op = op.Volatile()
	}
	if req.AckTimeoutMS == nil {
		if err := op.Emit(req.Event, args...); err != nil {
			return errorResponse(h.emitError(nsp, err))
		}
		return response{status: http.StatusAccepted, body: emptyObject}
	}
	timeout := time.Duration(*req.AckTimeoutMS) * time.Millisecond
	answers, clients, err := op.Timeout(timeout).EmitWithAckCount(r.Context(), req.Event, args...)
	timedOut := false
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return errorResponse(h.emitError(nsp, err))
		}
		timedOut = true
	}
	acks := make([]json.RawMessage, len(answers))
	for i, a := range answers {
		acks[i] = firstArg(a)
	}
	return jsonResponse(http.StatusOK, ackAnswer{Clients: clients, Acks: acks, TimedOut: timedOut})
}

// emitError is the answer to an emit the adapter refused.
func (h *Handler) emitError(nsp *socketio.Namespace, err error) *apiError {
	if e := clusterError(nsp, nil); e != nil {
		return e
	}
	if errors.Is(err, context.Canceled) {
		return errorf(499, "canceled", "the request was canceled")
	}
	h.logger.Warn("an API emit failed", zap.Error(err))
	return &apiError{status: http.StatusServiceUnavailable, code: "emit_failed", message: err.Error(), retryAfter: 1}
}

// firstArg is what an acknowledgement answers, as Node's emitWithAck
// gives it: the first argument (null when there is none), with binary
// values as {"_binary": base64}.
func firstArg(a socketio.Args) json.RawMessage {
	if a.Len() == 0 {
		return json.RawMessage("null")
	}
	if len(a.Attachments) == 0 {
		return a.JSON[0]
	}
	v, err := a.Value(0)
	if err != nil {
		return json.RawMessage("null")
	}
	b, err := json.Marshal(toWire(v))
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

func (h *Handler) join(r *http.Request, t Target, _ query, body []byte) response {
	var req joinRequest
	if e := decodeBody(body, &req); e != nil {
		return errorResponse(e)
	}
	return changeRooms(r, t, req.target, "join", req.Join, (*socketio.BroadcastOperator).SocketsJoin)
}

func (h *Handler) leave(r *http.Request, t Target, _ query, body []byte) response {
	var req leaveRequest
	if e := decodeBody(body, &req); e != nil {
		return errorResponse(e)
	}
	return changeRooms(r, t, req.target, "leave", req.Leave, (*socketio.BroadcastOperator).SocketsLeave)
}

// changeRooms is /sockets/join and /sockets/leave once decoded: the sockets
// sel selects join or leave rooms (field names the list in errors) through
// apply, SocketsJoin or SocketsLeave.
func changeRooms(r *http.Request, t Target, sel target, field string, rooms []string,
	apply func(*socketio.BroadcastOperator, context.Context, ...string) error) response {
	if e := firstError(sel.check(), checkRoomList(field, rooms)); e != nil {
		return errorResponse(e)
	}
	nsp, e := namespace(t, sel.Namespace)
	if e != nil {
		return errorResponse(e)
	}
	op := sel.operator(nsp)
	if applyHereFirst(nsp) {
		_ = apply(op.Local(), r.Context(), rooms...)
	}
	return done(nsp, apply(op, r.Context(), rooms...))
}

func (h *Handler) disconnect(r *http.Request, t Target, _ query, body []byte) response {
	var req disconnectRequest
	if e := decodeBody(body, &req); e != nil {
		return errorResponse(e)
	}
	if e := req.target.check(); e != nil {
		return errorResponse(e)
	}
	nsp, e := namespace(t, req.Namespace)
	if e != nil {
		return errorResponse(e)
	}
	op := req.operator(nsp)
	if applyHereFirst(nsp) {
		_ = op.Local().DisconnectSockets(r.Context(), req.Close)
	}
	return done(nsp, op.DisconnectSockets(r.Context(), req.Close))
}

// applyHereFirst tells whether join, leave and disconnect must be applied
// to this server's sockets before they are published. The answer promises
// that they are applied here; a cluster adapter may do it only when its
// own request comes back through Redis, as Node's redis adapter does (the
// second pass changes nothing: the sockets are in the rooms, or gone).
func applyHereFirst(nsp *socketio.Namespace) bool {
	_, single := nsp.Adapter().(*socketio.MemoryAdapter)
	return !single
}

func firstError(errs ...*apiError) *apiError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// done answers 200 {} once an operation is applied here and published.
func done(nsp *socketio.Namespace, err error) response {
	if e := clusterError(nsp, err); e != nil {
		return errorResponse(e)
	}
	return response{status: http.StatusOK, body: emptyObject}
}

type socketJSON struct {
	ID        string          `json:"id"`
	Rooms     []string        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
	Handshake handshakeJSON   `json:"handshake"`
}

type handshakeJSON struct {
	Address string         `json:"address"`
	Query   map[string]any `json:"query"`
	Time    string         `json:"time"`
}

type socketsAnswer struct {
	Sockets    []socketJSON `json:"sockets"`
	NextCursor *string      `json:"next_cursor"`
}

// fetch is FetchSockets of the rooms, sorted by id (the order the cursor
// pages through), or the 503 of a cluster that did not answer in time.
func fetch(ctx context.Context, t Target, q query) ([]socketio.RemoteSocket, *socketio.Namespace, *apiError) {
	nsp, e := namespace(t, q.Namespace)
	if e != nil {
		return nil, nil, e
	}
	list, err := nsp.In(q.Rooms...).FetchSockets(ctx)
	// Asking the other servers is also how the adapter finds Redis gone.
	if e := clusterError(nsp, err); e != nil {
		return nil, nil, e
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list, nsp, nil
}

// A cursor is the id of the last socket of the previous page, encoded so
// that clients treat it as opaque (its form may change).
const cursorPrefix = "v1:"

func encodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + id))
}

func decodeCursor(c string) (string, *apiError) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	id, ok := strings.CutPrefix(string(b), cursorPrefix)
	if err != nil || !ok {
		return "", badField("cursor", "%q is not a cursor of this API; pass the next_cursor of the previous page as it is", c)
	}
	return id, nil
}

func (h *Handler) sockets(r *http.Request, t Target, q query, _ []byte) response {
	after := ""
	if q.Cursor != "" {
		var e *apiError
		if after, e = decodeCursor(q.Cursor); e != nil {
			return errorResponse(e)
		}
	}
	list, _, e := fetch(r.Context(), t, q)
	if e != nil {
		return errorResponse(e)
	}
	start := sort.Search(len(list), func(i int) bool { return list[i].ID > after })
	page := list[start:]
	ans := socketsAnswer{Sockets: []socketJSON{}}
	if len(page) > q.Limit {
		page = page[:q.Limit]
		next := encodeCursor(page[len(page)-1].ID)
		ans.NextCursor = &next
	}
	for _, s := range page {
		ans.Sockets = append(ans.Sockets, describe(s))
	}
	return jsonResponse(http.StatusOK, ans)
}

func describe(s socketio.RemoteSocket) socketJSON {
	data := s.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	rooms := s.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	return socketJSON{ID: s.ID, Rooms: rooms, Data: data, Handshake: handshakeJSON{
		Address: s.Handshake.Address,
		Query:   queryObject(s.Handshake.Query()),
		Time:    s.Handshake.Time(),
	}}
}

// queryObject is a query as Node's handshake.query shows it: a string per
// name, an array for a repeated one.
func queryObject(v url.Values) map[string]any {
	m := make(map[string]any, len(v))
	for name, values := range v {
		if len(values) == 1 {
			m[name] = values[0]
		} else {
			m[name] = values
		}
	}
	return m
}

type roomJSON struct {
	Name    string `json:"name"`
	Sockets int    `json:"sockets"`
}

func (h *Handler) rooms(r *http.Request, t Target, q query, _ []byte) response {
	list, _, e := fetch(r.Context(), t, q)
	if e != nil {
		return errorResponse(e)
	}
	counts := map[string]int{}
	for _, s := range list {
		for _, room := range s.Rooms {
			if room != s.ID { // every socket's own room: not a room anyone made
				counts[room]++
			}
		}
	}
	rooms := make([]roomJSON, 0, len(counts))
	for name, n := range counts {
		rooms = append(rooms, roomJSON{Name: name, Sockets: n})
	}
	sort.Slice(rooms, func(i, j int) bool { return rooms[i].Name < rooms[j].Name })
	return jsonResponse(http.StatusOK, map[string]any{"rooms": rooms})
}

func (h *Handler) count(r *http.Request, t Target, q query, _ []byte) response {
	nsp, e := namespace(t, q.Namespace)
	if e != nil {
		return errorResponse(e)
	}
	ids, err := nsp.Adapter().Sockets(r.Context(), q.Rooms)
	if e := clusterError(nsp, err); e != nil {
		return errorResponse(e)
	}
	return jsonResponse(http.StatusOK, map[string]int{"count": len(ids)})
}

type serverSideAnswer struct {
	Acks     []json.RawMessage `json:"acks"`
	TimedOut bool              `json:"timed_out"`
}

func (h *Handler) serverSideEmit(r *http.Request, t Target, _ query, body []byte) response {
	var req serverSideEmitRequest
	if e := decodeBody(body, &req); e != nil {
		return errorResponse(e)
	}
	if e := req.check(); e != nil {
		return errorResponse(e)
	}
	args, e := emitArgs("args", req.Args)
	if e != nil {
		return errorResponse(e)
	}
	for i, a := range args {
		if containsBytes(a) {
			return errorResponse(badField(fmt.Sprintf("args[%d]", i), "a server-side emit cannot carry binary values (Node's adapter sends it as JSON between servers); send base64 in a string instead"))
		}
	}
	nsp, e := namespace(t, req.Namespace)
	if e != nil {
		return errorResponse(e)
	}
	noCluster := errorf(http.StatusBadRequest, "no_cluster",
		"namespace %q is served by this server alone (the in-memory adapter): a server-side emit needs other servers; configure \"adapter redis\" in the socketio handler", nsp.Name())
	if req.AckTimeoutMS == nil {
		err := nsp.ServerSideEmit(r.Context(), req.Event, args...)
		if errors.Is(err, socketio.ErrSingleServer) {
			return errorResponse(noCluster)
		}
		if err != nil {
			return errorResponse(serverSideError(nsp, err))
		}
		return response{status: http.StatusAccepted, body: emptyObject}
	}
	a, ok := nsp.Adapter().(ackingServerSideEmit)
	if !ok {
		if _, single := nsp.Adapter().(*socketio.MemoryAdapter); single {
			return errorResponse(noCluster)
		}
		return errorResponse(errorf(http.StatusBadRequest, "not_supported",
			"the adapter of namespace %q cannot collect server-side acknowledgements; leave ack_timeout_ms out", nsp.Name()))
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(*req.AckTimeoutMS)*time.Millisecond)
	defer cancel()
	acks, err := a.ServerSideEmitWithAck(ctx, req.Event, args...)
	ans := serverSideAnswer{Acks: acks}
	if ans.Acks == nil {
		ans.Acks = []json.RawMessage{}
	}
	if err != nil {
		if e := clusterError(nsp, nil); e != nil {
			return errorResponse(e)
		}
		// The adapter's own requests timeout ("timeout reached while
		// waiting for serverSideEmit responses") or ack_timeout_ms: the
		// answers so far, marked. Anything else is the cluster's failure.
		if ctx.Err() == nil && !strings.Contains(err.Error(), "timeout") {
			return errorResponse(serverSideError(nsp, err))
		}
		ans.TimedOut = true
	}
	return jsonResponse(http.StatusOK, ans)
}

func serverSideError(nsp *socketio.Namespace, err error) *apiError {
	return clusterError(nsp, err)
}

// containsBytes reports whether an emit argument holds a binary value.
func containsBytes(v any) bool {
	switch v := v.(type) {
	case []byte:
		return true
	case map[string]any:
		for _, e := range v {
			if containsBytes(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if containsBytes(e) {
				return true
			}
		}
	}
	return false
}

type batchAnswer struct {
	Responses []batchResult `json:"responses"`
}

type batchResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// batch runs its items one after the other, in order, and answers each
// with the status and body it would have had on its own. An item that
// fails does not stop the others.
func (h *Handler) batch(r *http.Request, t Target, _ query, body []byte) response {
	var req batchRequest
	if e := decodeBody(body, &req); e != nil {
		return errorResponse(e)
	}
	if req.Requests == nil {
		return errorResponse(badField("requests", "missing; list the operations, such as [{\"path\": \"/emit\", \"body\": {...}}]"))
	}
	if len(req.Requests) > maxBatch {
		return errorResponse(badField("requests", "%d items; a batch takes at most %d", len(req.Requests), maxBatch))
	}
	ans := batchAnswer{Responses: make([]batchResult, len(req.Requests))}
	for i, item := range req.Requests {
		resp := h.batchItem(r, t, item, fmt.Sprintf("requests[%d]", i))
		ans.Responses[i] = batchResult{Status: resp.status, Body: resp.body}
	}
	return jsonResponse(http.StatusOK, ans)
}

func (h *Handler) batchItem(r *http.Request, t Target, item batchItem, field string) response {
	rt, ok := routes[item.Path]
	if !ok || item.Path == "/batch" {
		return errorResponse(badField(field+".path", "%q is not an operation a batch can hold; use one of %s", item.Path, strings.Join(batchable(), ", ")))
	}
	if rt.method == http.MethodGet {
		if len(item.Body) > 0 {
			return errorResponse(badField(field+".body", "%s is a GET: give its parameters in \"query\"", item.Path))
		}
		v, e := batchQuery(item.Query, field+".query")
		if e != nil {
			return errorResponse(e)
		}
		q, e := parseQuery(v, rt.params...)
		if e != nil {
			return errorResponse(e)
		}
		return rt.op(h, r, t, q, nil)
	}
	if item.Query != nil {
		return errorResponse(badField(field+".query", "%s is a POST: give its fields in \"body\"", item.Path))
	}
	if len(bytes.TrimSpace(item.Body)) == 0 {
		return errorResponse(badField(field+".body", "missing; give the JSON body of %s", item.Path))
	}
	return rt.op(h, r, t, query{}, item.Body)
}

func batchable() []string {
	var list []string
	for _, r := range Routes() {
		if !strings.HasSuffix(r, " /batch") {
			list = append(list, strings.Fields(r)[1])
		}
	}
	return list
}
