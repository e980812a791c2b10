package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Target is the Socket.IO server a request acts on, with the limit on
// request bodies that goes with it.
type Target struct {
	Server *socketio.Server
	// MaxBody is the largest request body accepted, in bytes (the server's
	// max_payload: an emit could not carry more to a client anyway); 1e6
	// when zero.
	MaxBody int64
}

// Fixed is the Find function of a handler that always serves srv.
func Fixed(srv *socketio.Server) func() (Target, error) {
	return func() (Target, error) { return Target{Server: srv}, nil }
}

// Options configures a Handler.
type Options struct {
	// Keys are the API keys accepted in the Authorization: Bearer header;
	// several during a rotation. With none, every request is accepted:
	// only for a listener nobody else can reach.
	Keys []string
	// MaxInFlight bounds the requests being served at once (those waiting
	// for acknowledgements included); the next ones get 429. 256 when zero.
	MaxInFlight int
	// IdempotencyTTL is how long the answer of a POST with an
	// Idempotency-Key is kept; 5 minutes when zero.
	IdempotencyTTL time.Duration
	// IdempotencyMaxBytes bounds the memory of the kept answers; past it,
	// new keys get 429 until old ones expire. 32 MiB when zero.
	IdempotencyMaxBytes int
	// Logger receives the unexpected errors; nothing is logged when nil.
	Logger *zap.Logger
	// Now is the clock of the idempotency store; time.Now when nil.
	Now func() time.Time
}

// Handler serves the HTTP API of one Socket.IO server. It is an
// http.Handler; the routes are relative to where it is mounted (strip the
// prefix, as http.StripPrefix or Caddy's handle_path do).
type Handler struct {
	find     func() (Target, error)
	keys     [][sha256.Size]byte
	inFlight chan struct{}
	store    *idempotencyStore
	logger   *zap.Logger
}

// New returns the API handler of the server find returns; find runs on
// every request, so the server may start after the handler, or be replaced.
// An error from find answers 404 with its text: the server the API names
// does not run (yet).
func New(find func() (Target, error), opts Options) *Handler {
	h := &Handler{find: find, logger: opts.Logger}
	for _, k := range opts.Keys {
		h.keys = append(h.keys, sha256.Sum256([]byte(k)))
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 256
	}
	h.inFlight = make(chan struct{}, opts.MaxInFlight)
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = 5 * time.Minute
	}
	if opts.IdempotencyMaxBytes <= 0 {
		opts.IdempotencyMaxBytes = 32 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h.store = newIdempotencyStore(opts.IdempotencyTTL, opts.IdempotencyMaxBytes, opts.Now)
	if h.logger == nil {
		h.logger = zap.NewNop()
	}
	return h
}

// operation serves one route; q holds the GET parameters, body the POST
// body.
type operation func(h *Handler, r *http.Request, t Target, q query, body []byte) response

type route struct {
	method string
	params []string // the query parameters a GET takes
	op     operation
}

// routes are the API's operations, by path. openapi.yaml documents each
// (a test checks it). It is set by init, since /batch refers to it.
var routes map[string]route

func init() {
	routes = map[string]route{
		"/emit":               {method: http.MethodPost, op: (*Handler).emit},
		"/sockets/join":       {method: http.MethodPost, op: (*Handler).join},
		"/sockets/leave":      {method: http.MethodPost, op: (*Handler).leave},
		"/sockets/disconnect": {method: http.MethodPost, op: (*Handler).disconnect},
		"/sockets":            {method: http.MethodGet, params: []string{"namespace", "room", "limit", "cursor"}, op: (*Handler).sockets},
		"/rooms":              {method: http.MethodGet, params: []string{"namespace"}, op: (*Handler).rooms},
		"/sockets/count":      {method: http.MethodGet, params: []string{"namespace", "room"}, op: (*Handler).count},
		"/server-side-emit":   {method: http.MethodPost, op: (*Handler).serverSideEmit},
		"/batch":              {method: http.MethodPost, op: (*Handler).batch},
	}
}

// Routes lists the method and path of every operation, sorted by path.
func Routes() []string {
	var list []string
	for path, rt := range routes {
		list = append(list, rt.method+" "+path)
	}
	sort.Slice(list, func(i, j int) bool { return strings.Fields(list[i])[1] < strings.Fields(list[j])[1] })
	return list
}

// queryKeyNames are the parameters in which people put API keys; such a
// URL ends up in access logs and proxies' logs, so it is refused.
var queryKeyNames = []string{"key", "api_key", "apikey", "access_token", "token", "auth"}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.serve(r).write(w)
}

func (h *Handler) serve(r *http.Request) response {
	if e := h.checkQueryKey(r); e != nil {
		return errorResponse(e)
	}
	scope, e := h.authenticate(r)
	if e != nil {
		return errorResponse(e)
	}
	rt, ok := routes[r.URL.Path]
	if !ok {
		return errorResponse(errorf(http.StatusNotFound, "not_found",
			"no API operation at %q; the operations are %s (mount the handler with the prefix stripped, as Caddy's handle_path does)",
			r.URL.Path, strings.Join(Routes(), ", ")))
	}
	if r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead) {
		resp := errorResponse(errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s takes %s, not %s", r.URL.Path, rt.method, r.Method))
		resp.allow = rt.method
		return resp
	}
	select {
	case h.inFlight <- struct{}{}:
		defer func() { <-h.inFlight }()
	default:
		return errorResponse(&apiError{status: http.StatusTooManyRequests, code: "overloaded",
			message: "too many API requests are being served at once; retry after the Retry-After delay", retryAfter: 1})
	}
	t, err := h.find()
	if err != nil || t.Server == nil {
		msg := "the Socket.IO server of this API is not running"
		if err != nil {
			msg = err.Error()
		}
		return errorResponse(errorf(http.StatusNotFound, "unknown_server", "%s", msg))
	}
	if t.MaxBody <= 0 {
		t.MaxBody = 1e6
	}
	if rt.method == http.MethodGet {
		q, e := parseQuery(r.URL.Query(), rt.params...)
		if e != nil {
			return errorResponse(e)
		}
		return rt.op(h, r, t, q, nil)
	}
	body, e := readBody(r, t.MaxBody)
	if e != nil {
		return errorResponse(e)
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return rt.op(h, r, t, query{}, body)
	}
	if len(key) > 255 {
		return errorResponse(badField("Idempotency-Key", "%d characters; use at most 255 (a UUID is 36)", len(key)))
	}
	entry, done := h.store.begin(scope+"\x00"+r.URL.Path+"\x00"+key, body)
	if done != nil {
		return *done
	}
	resp := rt.op(h, r, t, query{}, body)
	h.store.finish(entry, resp)
	return resp
}

// readBody reads a POST body of at most limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, *apiError) {
	if r.ContentLength > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, "body_too_large",
			"the body has %d bytes; the limit is %d (the max_payload of the socketio server)", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "body_too_large",
			"the body has more than %d bytes, the limit (the max_payload of the socketio server)", limit)
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid_request", "body: reading it failed: %v", err)
	}
	return body, nil
}

// checkQueryKey refuses a request that carries an API key in its URL.
func (h *Handler) checkQueryKey(r *http.Request) *apiError {
	if r.URL.RawQuery == "" {
		return nil
	}
	q := r.URL.Query()
	for _, name := range queryKeyNames {
		if q.Has(name) {
			return badField(name, "API keys must not travel in the URL, where logs keep them; send \"Authorization: Bearer <key>\" instead (and rotate a key that was sent this way)")
		}
	}
	for name, values := range q {
		for _, v := range values {
			if h.matchKey(v) {
				return badField(name, "this query parameter holds an API key; keys must not travel in the URL, where logs keep them: send \"Authorization: Bearer <key>\" instead, and rotate this key")
			}
		}
	}
	return nil
}

// authenticate checks the bearer key, and returns the scope of the
// request's idempotency keys: the key's digest, so that two clients with
// different keys cannot see each other's answers.
func (h *Handler) authenticate(r *http.Request) (string, *apiError) {
	if len(h.keys) == 0 {
		return "", nil
	}
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	if auth == "" {
		return "", errorf(http.StatusUnauthorized, "unauthorized", "no API key; send the header \"Authorization: Bearer <key>\"")
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errorf(http.StatusUnauthorized, "unauthorized", "the Authorization header is not \"Bearer <key>\"")
	}
	token = strings.TrimSpace(token)
	if !h.matchKey(token) {
		return "", errorf(http.StatusUnauthorized, "unauthorized", "the API key is not one of the configured keys")
	}
	d := sha256.Sum256([]byte(token))
	return hex.EncodeToString(d[:]), nil
}

// matchKey compares in constant time with every key (digests, so that the
// length of a key does not show either).
func (h *Handler) matchKey(s string) bool {
	d := sha256.Sum256([]byte(s))
	match := 0
	for _, k := range h.keys {
		match |= subtle.ConstantTimeCompare(d[:], k[:])
	}
	return match == 1
}
