package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// pollClient is a Socket.IO client over HTTP long-polling only, as a client
// that cannot use WebSocket: one GET outstanding at a time receives, POSTs
// send.
type pollClient struct {
	http  *http.Client
	url   string // the session's URL, sid included
	proto int
	ns    string
	open  openPacket
	beats atomic.Int64
	ping  *pinger // protocol 3 only

	ctx    context.Context // cancelled by close, ending the outstanding GET
	cancel context.CancelFunc

	postMu sync.Mutex // Engine.IO refuses overlapping POSTs of one session ("data request overlap")
	body   []byte     // request body, guarded by postMu

	pending [][]byte // packets received before serve, owned by the reader
	buf     []byte   // response buffer, owned by the reader
}

func dialPolling(ctx context.Context, t *target, room string) (*pollClient, error) {
	c := &pollClient{http: t.http, proto: t.proto, ns: t.namespace}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.handshake(ctx, t, room); err != nil {
		c.cancel()
		return nil, err
	}
	if t.proto == 3 {
		c.ping = startPinger(c.open.pingInterval(), c.send)
	}
	return c, nil
}

func (c *pollClient) handshake(ctx context.Context, t *target, room string) error {
	first := t.url("polling", room)
	packets, err := c.get(ctx, first)
	if err != nil {
		return err
	}
	if len(packets) == 0 {
		return fmt.Errorf("GET %s: empty handshake response", first)
	}
	if c.open, err = parseOpen(packets[0]); err != nil {
		return err
	}
	c.url = first + "&sid=" + c.open.SID
	c.pending = append(c.pending[:0], copyPackets(packets[1:])...)
	return t.connectNamespace(func() ([]byte, error) { return c.next(ctx) }, c.send)
}

// next takes the first packet not yet handled, polling for more when there
// is none. What it leaves in c.pending is for serve.
func (c *pollClient) next(ctx context.Context) ([]byte, error) {
	for len(c.pending) == 0 {
		packets, err := c.get(ctx, c.url)
		if err != nil {
			return nil, err
		}
		c.pending = append(c.pending, copyPackets(packets)...)
	}
	p := c.pending[0]
	c.pending = c.pending[1:]
	return p, nil
}

func copyPackets(packets [][]byte) [][]byte {
	out := make([][]byte, len(packets))
	for i, p := range packets {
		out[i] = append([]byte(nil), p...)
	}
	return out
}

// get performs one polling GET and splits its payload; the packets alias
// c.buf.
func (c *pollClient) get(ctx context.Context, url string) ([][]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	c.buf, err = readAll(c.buf, resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %s: %s", url, resp.Status, clip(c.buf))
	}
	return splitPayload(c.buf, c.proto)
}

// send POSTs one packet.
func (c *pollClient) send(packet []byte) error {
	c.postMu.Lock()
	defer c.postMu.Unlock()
	c.body = appendPayload(c.body[:0], c.proto, packet)
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: HTTP %s", c.url, resp.Status)
	}
	return nil
}

func (c *pollClient) serve(handle func(sioPacket)) error {
	for {
		for len(c.pending) > 0 {
			p := c.pending[0]
			c.pending = c.pending[1:]
			if err := c.dispatch(p, handle); err != nil {
				return err
			}
		}
		packets, err := c.get(c.ctx, c.url)
		if err != nil {
			return err
		}
		for _, p := range packets {
			if err := c.dispatch(p, handle); err != nil {
				return err
			}
		}
	}
}

func (c *pollClient) dispatch(p []byte, handle func(sioPacket)) error {
	ping, err := receive(p, &c.beats, handle)
	if ping && c.proto == 4 {
		c.beats.Add(1)
		// Answer from another goroutine: the POST must not hold up the next
		// GET, which carries what the server queued meanwhile.
		go func() { _ = c.send([]byte{eioPong}) }()
	}
	return err
}

func (c *pollClient) heartbeats() int64 { return c.beats.Load() }

// close sends a close packet, so the server frees the session at once, and
// ends the outstanding GET.
func (c *pollClient) close() {
	c.ping.stop()
	_ = c.send([]byte{eioClose})
	c.cancel()
}
