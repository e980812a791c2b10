package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// An emitter sends the fanout's events from outside the Socket.IO cluster,
// as a backend does (-emit-via): over the HTTP server API (socketio_api),
// or as @socket.io/redis-emitter does, one PUBLISH of the adapter's
// MessagePack broadcast per event.
type emitter interface {
	// emit sends event with the arguments of a stamp to the room.
	emit(ctx context.Context, seq, micros int64) error
	close()
}

// apiEmitter POSTs /emit to the API, on one keep-alive connection, as a
// backend's HTTP client would.
type apiEmitter struct {
	url, key, room string
	pad            int
	client         *http.Client
	body           []byte
}

func newAPIEmitter(url, key, room string, pad int) *apiEmitter {
	return &apiEmitter{url: url + "/emit", key: key, room: room, pad: pad, client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
	}}
}

func (a *apiEmitter) emit(ctx context.Context, seq, micros int64) error {
	b := append(a.body[:0], `{"event":"fanout","args":[`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, micros, 10)
	if a.pad > 0 {
		b = append(b, `,"`...)
		b = append(b, bytes.Repeat([]byte{'x'}, a.pad)...)
		b = append(b, '"')
	}
	b = append(b, ']')
	if a.room != "" {
		b = append(b, `,"rooms":[`...)
		b = strconv.AppendQuote(b, a.room)
		b = append(b, ']')
	}
	b = append(b, '}')
	a.body = b
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.key != "" {
		req.Header.Set("Authorization", "Bearer "+a.key)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(resp.Body) // read whole: the connection is reused
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("API emit: %d %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

func (a *apiEmitter) close() { a.client.CloseIdleConnections() }

// redisEmitter publishes what @socket.io/redis-emitter 5 publishes for
// io.to(room).emit(...): ["emitter", {type: 2, data, nsp}, {rooms, except,
// flags}] on socket.io#<nsp>#<room>#.
type redisEmitter struct {
	client    *redis.Client
	nsp, room string
	pad       string
}

func newRedisEmitter(addr, nsp, room string, pad int) *redisEmitter {
	return &redisEmitter{client: redis.NewClient(&redis.Options{Addr: addr}), nsp: nsp, room: room, pad: string(bytes.Repeat([]byte{'x'}, pad))}
}

func (e *redisEmitter) emit(ctx context.Context, seq, micros int64) error {
	data := []any{"fanout", seq, micros}
	if e.pad != "" {
		data = append(data, e.pad)
	}
	rooms := []string{}
	channel := "socket.io#" + e.nsp + "#"
	if e.room != "" {
		rooms = append(rooms, e.room)
		channel += e.room + "#"
	}
	msg, err := msgpack.Marshal([]any{"emitter",
		map[string]any{"type": 2, "data": data, "nsp": e.nsp},
		map[string]any{"rooms": rooms, "except": []string{}, "flags": map[string]any{}}})
	if err != nil {
		return err
	}
	return e.client.Publish(ctx, channel, msg).Err()
}

func (e *redisEmitter) close() { _ = e.client.Close() }
