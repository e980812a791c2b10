package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client calls the API of a Handler over HTTP, for scripts and commands
// (`caddy socketio emit`). Its zero value needs BaseURL.
type Client struct {
	// BaseURL is where the API is mounted, such as
	// http://10.0.0.5:9000/socketio-api.
	BaseURL string
	// Key is sent as "Authorization: Bearer <key>" when set.
	Key string
	// HTTP makes the requests; http.DefaultClient when nil.
	HTTP *http.Client
}

// Error is an answer of the API other than 2xx.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("the API answered %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("the API answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Call sends one request: body (any JSON value, nil for none) for a POST,
// query for a GET, and an Idempotency-Key when idempotencyKey is set. It
// returns the body of a 2xx answer, and an *Error for the others.
func (c *Client) Call(ctx context.Context, method, path string, query url.Values, body any, idempotencyKey string) (json.RawMessage, error) {
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return bytes.TrimSpace(b), nil
	}
	e := &Error{Status: resp.StatusCode}
	var eb errorBody
	if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
	} else {
		e.Message = strings.TrimSpace(string(b)) // not this API: a proxy's page, say
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "..."
		}
	}
	return nil, e
}
