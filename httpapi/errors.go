package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an answer other than success: its status, a stable code a
// program can switch on, and a message for the person reading the logs.
type apiError struct {
	status     int
	code       string
	message    string
	retryAfter int // seconds; 0: no Retry-After header
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// badField is a 400 that names the field of the request that was wrong.
func badField(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request",
		message: field + ": " + fmt.Sprintf(format, args...)}
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// response is a finished answer, kept as bytes so that an idempotent retry
// gets exactly the same one and a batch can embed it.
type response struct {
	status     int
	body       json.RawMessage
	retryAfter int
	allow      string // the Allow header of a 405
}

var emptyObject = json.RawMessage(`{}`)

func jsonResponse(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		// Only values this package builds are marshalled; this is a bug.
		return errorResponse(errorf(http.StatusInternalServerError, "internal", "encoding the answer: %v", err))
	}
	return response{status: status, body: b}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func errorResponse(e *apiError) response {
	var b errorBody
	b.Error.Code, b.Error.Message = e.code, e.message
	body, _ := json.Marshal(b)
	return response{status: e.status, body: body, retryAfter: e.retryAfter}
}

func (r response) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(r.body)+1))
	h.Set("Cache-Control", "no-store")
	if r.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(r.retryAfter))
	}
	if r.allow != "" {
		h.Set("Allow", r.allow)
	}
	if r.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="socketio_api"`)
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(append(r.body, '\n'))
}
