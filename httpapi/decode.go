package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The request bodies, as the OpenAPI document (openapi.yaml) describes
// them. Unknown fields are refused: a typo such as "room" for "rooms" would
// otherwise silently widen an emit to the whole namespace.

// target selects sockets, as Node's io.to(rooms).except(except).
type target struct {
	Namespace string   `json:"namespace"`
	Rooms     []string `json:"rooms"`
	Except    []string `json:"except"`
}

type emitRequest struct {
	target
	Event        string            `json:"event"`
	Args         []json.RawMessage `json:"args"`
	Volatile     bool              `json:"volatile"`
	AckTimeoutMS *int64            `json:"ack_timeout_ms"`
}

type joinRequest struct {
	target
	Join []string `json:"join"`
}

type leaveRequest struct {
	target
	Leave []string `json:"leave"`
}

type disconnectRequest struct {
	target
	Close bool `json:"close"`
}

type serverSideEmitRequest struct {
	Namespace    string            `json:"namespace"`
	Event        string            `json:"event"`
	Args         []json.RawMessage `json:"args"`
	AckTimeoutMS *int64            `json:"ack_timeout_ms"`
}

type batchRequest struct {
	Requests []batchItem `json:"requests"`
}

// batchItem is one operation of a batch: the path of its route, with the
// body of a POST or the query parameters of a GET.
type batchItem struct {
	Path  string                     `json:"path"`
	Body  json.RawMessage            `json:"body"`
	Query map[string]json.RawMessage `json:"query"`
}

// maxAckTimeout bounds ack_timeout_ms: an HTTP request waiting longer is
// likely cut by a proxy or the server's write timeout anyway.
const maxAckTimeout = 5 * time.Minute

// maxBatch bounds the items of one batch.
const maxBatch = 100

// decodeBody decodes a JSON object into v, refusing unknown fields and
// trailing data, with the field named in the error.
func decodeBody(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return badField("body", "empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badField("body", "data after the JSON object; send one object")
	}
	return nil
}

// jsonError turns an encoding/json error into a 400 that names the field.
func jsonError(err error) *apiError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return badField(field, "is a JSON %s; want %s", typeErr.Value, jsonTypeName(typeErr.Type.String()))
	case errors.As(err, &syntaxErr):
		return badField("body", "invalid JSON at offset %d: %v", syntaxErr.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badField("body", "the JSON ends too early")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name, _ := strconv.Unquote(f)
		return badField(name, "unknown field; see the API's OpenAPI document for the fields of this request")
	}
	return badField("body", "%s", strings.TrimPrefix(msg, "json: "))
}

func jsonTypeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "*int"):
		return "an integer"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map") || strings.HasPrefix(goType, "struct") || strings.HasPrefix(goType, "httpapi."):
		return "an object"
	}
	return goType
}

func (r *emitRequest) check() *apiError {
	if e := checkEvent(r.Event); e != nil {
		return e
	}
	if e := r.target.check(); e != nil {
		return e
	}
	return checkAckTimeout(r.AckTimeoutMS)
}

func (r *serverSideEmitRequest) check() *apiError {
	if e := checkEvent(r.Event); e != nil {
		return e
	}
	return checkAckTimeout(r.AckTimeoutMS)
}

func (t *target) check() *apiError {
	for i, room := range t.Rooms {
		if room == "" {
			return badField(fmt.Sprintf("rooms[%d]", i), "empty room name")
		}
	}
	for i, room := range t.Except {
		if room == "" {
			return badField(fmt.Sprintf("except[%d]", i), "empty room name")
		}
	}
	return nil
}

func checkRoomList(field string, rooms []string) *apiError {
	if len(rooms) == 0 {
		return badField(field, "missing or empty; list the rooms, such as [\"room1\"]")
	}
	for i, room := range rooms {
		if room == "" {
			return badField(fmt.Sprintf("%s[%d]", field, i), "empty room name")
		}
	}
	return nil
}

func checkEvent(event string) *apiError {
	switch event {
	case "":
		return badField("event", "missing; name the event, such as \"message\"")
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return badField("event", "%q is reserved by Socket.IO; pick another name", event)
	}
	return nil
}

func checkAckTimeout(ms *int64) *apiError {
	if ms == nil {
		return nil
	}
	if *ms <= 0 || time.Duration(*ms)*time.Millisecond > maxAckTimeout {
		return badField("ack_timeout_ms", "%d is out of range; give 1 to %d milliseconds, or leave it out not to wait for acknowledgements", *ms, maxAckTimeout.Milliseconds())
	}
	return nil
}

// The binary convention: JSON has no bytes, so a binary value travels as
// {"_binary": "<base64>"}, in requests (becoming a Buffer or ArrayBuffer
// on the clients) and in answers (a client's acknowledgement carrying one).
const binaryKey = "_binary"

var binaryMarker = []byte(`"` + binaryKey + `"`)

// emitArgs turns the JSON arguments of a request into emit arguments.
// Arguments without a binary value are passed on as raw JSON, untouched;
// the others are decoded and their {"_binary": ...} objects become []byte,
// which package socketio sends as attachments.
func emitArgs(field string, raw []json.RawMessage) ([]any, *apiError) {
	args := make([]any, len(raw))
	for i, r := range raw {
		name := fmt.Sprintf("%s[%d]", field, i)
		if !bytes.Contains(r, binaryMarker) {
			if bytes.ContainsAny(r, " \t\r\n") {
				// The clients get it as sent; whitespace would only cost
				// bytes on every receiver's connection.
				var c bytes.Buffer
				if err := json.Compact(&c, r); err == nil {
					r = c.Bytes()
				}
			}
			args[i] = r
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber() // numbers stay as written
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, badField(name, "invalid JSON: %v", err)
		}
		v, err := fromWire(v, name)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	return args, nil
}

func fromWire(v any, path string) (any, *apiError) {
	switch v := v.(type) {
	case map[string]any:
		if b, ok := v[binaryKey]; ok && len(v) == 1 {
			s, isString := b.(string)
			if !isString {
				return nil, badField(path+"._binary", "want a base64 string")
			}
			data, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, badField(path+"._binary", "not base64 (standard alphabet, with padding): %v", err)
			}
			return data, nil
		}
		for k, e := range v {
			c, err := fromWire(e, path+"."+k)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
	case []any:
		for i, e := range v {
			c, err := fromWire(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
	}
	return v, nil
}

// toWire replaces every []byte in a decoded value by {"_binary": base64}.
func toWire(v any) any {
	switch v := v.(type) {
	case []byte:
		return map[string]string{binaryKey: base64.StdEncoding.EncodeToString(v)}
	case map[string]any:
		for k, e := range v {
			v[k] = toWire(e)
		}
	case []any:
		for i, e := range v {
			v[i] = toWire(e)
		}
	}
	return v
}

// query is the parameters of a GET operation, from the URL or from the
// "query" object of a batch item.
type query struct {
	Namespace string
	Rooms     []string
	Limit     int
	Cursor    string
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// parseQuery reads namespace, room (repeatable), limit and cursor; allowed
// lists the parameters the operation takes.
func parseQuery(v url.Values, allowed ...string) (query, *apiError) {
	q := query{Limit: defaultLimit}
	for name := range v {
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		if !ok {
			return q, badField(name, "unknown query parameter; this operation takes %s", strings.Join(allowed, ", "))
		}
	}
	q.Namespace = v.Get("namespace")
	for _, room := range v["room"] {
		if room == "" {
			return q, badField("room", "empty room name")
		}
		q.Rooms = append(q.Rooms, room)
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return q, badField("limit", "%q is not a number from 1 to %d", s, maxLimit)
		}
		q.Limit = n
	}
	q.Cursor = v.Get("cursor")
	return q, nil
}

// batchQuery turns a batch item's query object into URL values: each value
// a string, a number or an array of strings.
func batchQuery(m map[string]json.RawMessage, field string) (url.Values, *apiError) {
	v := url.Values{}
	for name, raw := range m {
		var s string
		var list []string
		var n json.Number
		switch {
		case json.Unmarshal(raw, &s) == nil:
			v.Add(name, s)
		case json.Unmarshal(raw, &list) == nil:
			v[name] = append(v[name], list...)
		case json.Unmarshal(raw, &n) == nil:
			v.Add(name, n.String())
		default:
			return nil, badField(field+"."+name, "want a string, a number or an array of strings")
		}
	}
	return v, nil
}
