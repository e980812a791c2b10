package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// wsClient is a Socket.IO client over a WebSocket from the first request
// (no polling upgrade), one Engine.IO packet per text frame.
type wsClient struct {
	conn  *websocket.Conn
	proto int
	ns    string
	open  openPacket
	beats atomic.Int64
	ping  *pinger // protocol 3 only

	writeMu sync.Mutex // gorilla/websocket allows one writer at a time
	buf     []byte     // read buffer, owned by the reading goroutine
}

func dialWebSocket(ctx context.Context, t *target, room string) (*wsClient, error) {
	url := t.url("websocket", room)
	conn, resp, err := t.ws.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket %s: %v (HTTP %s)", url, err, resp.Status)
		}
		return nil, fmt.Errorf("websocket %s: %v", url, err)
	}
	c := &wsClient{conn: conn, proto: t.proto, ns: t.namespace}
	if err := c.handshake(t); err != nil {
		conn.Close()
		return nil, err
	}
	if t.proto == 3 {
		c.ping = startPinger(c.open.pingInterval(), c.send)
	}
	return c, nil
}

// handshake reads the open packet and connects to the namespace.
func (c *wsClient) handshake(t *target) error {
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	p, err := c.read()
	if err != nil {
		return fmt.Errorf("waiting for the open packet: %v", err)
	}
	if c.open, err = parseOpen(p); err != nil {
		return err
	}
	return t.connectNamespace(c.read, c.send)
}

// read returns the next text frame; it aliases c.buf.
func (c *wsClient) read() ([]byte, error) {
	for {
		typ, r, err := c.conn.NextReader()
		if err != nil {
			return nil, err
		}
		c.buf, err = readAll(c.buf, r)
		if err != nil {
			return nil, err
		}
		if typ == websocket.TextMessage {
			return c.buf, nil
		}
		// Binary frames are attachments, which the load generator never
		// provokes; skip them.
	}
}

func (c *wsClient) send(packet []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.conn.WriteMessage(websocket.TextMessage, packet)
}

func (c *wsClient) serve(handle func(sioPacket)) error {
	for {
		p, err := c.read()
		if err != nil {
			return err
		}
		ping, err := receive(p, &c.beats, handle)
		if err != nil {
			return err
		}
		if ping && c.proto == 4 {
			if err := c.send([]byte{eioPong}); err != nil {
				return err
			}
			c.beats.Add(1)
		}
	}
}

func (c *wsClient) heartbeats() int64 { return c.beats.Load() }

func (c *wsClient) close() {
	c.ping.stop()
	c.conn.Close()
}
