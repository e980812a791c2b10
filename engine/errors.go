package engine

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Node's engine.io error codes, sent as {"code":N,"message":"..."}.
const (
	codeUnknownTransport    = 0
	codeUnknownSID          = 1
	codeBadHandshakeMethod  = 2
	codeBadRequest          = 3
	codeForbidden           = 4
	codeUnsupportedProtocol = 5
)

var errorMessages = [...]string{
	codeUnknownTransport:    "Transport unknown",
	codeUnknownSID:          "Session ID unknown",
	codeBadHandshakeMethod:  "Bad handshake method",
	codeBadRequest:          "Bad request",
	codeForbidden:           "Forbidden",
	codeUnsupportedProtocol: "Unsupported protocol version",
}

// writeError answers a polling request the way Node's abortRequest does:
// 403 for a refused handshake, 400 otherwise, with a JSON body. message
// overrides the standard text (AllowRequest's error).
func writeError(w http.ResponseWriter, code int, message string) {
	if message == "" {
		message = errorMessages[code]
	}
	status := http.StatusBadRequest
	if code == codeForbidden {
		status = http.StatusForbidden
	}
	body := make([]byte, 0, 32+len(message))
	body = append(body, `{"code":`...)
	body = strconv.AppendInt(body, int64(code), 10)
	body = append(body, `,"message":`...)
	quoted, _ := json.Marshal(message) // a string always marshals
	body = append(body, quoted...)
	body = append(body, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeUpgradeError refuses a WebSocket upgrade with a plain 400, as Node's
// abortUpgrade does (the WebSocket API never shows the body to the page).
func writeUpgradeError(w http.ResponseWriter, code int, message string) {
	if message == "" {
		message = errorMessages[code]
	}
	h := w.Header()
	h.Set("Connection", "close")
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(message)))
	w.WriteHeader(http.StatusBadRequest)
	w.Write([]byte(message))
}

// writeStatus answers with a bare status, as Node does for overlapping
// requests (400) and oversized bodies (413).
func writeStatus(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}
