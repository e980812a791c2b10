package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// client is one Socket.IO connection of the load generator, already
// connected to its namespace.
type client interface {
	// send writes one Engine.IO packet, typically a Socket.IO message built
	// by appendSIO. Safe for concurrent use.
	send(packet []byte) error
	// serve reads until the connection ends, answering heartbeats and
	// handing each Socket.IO packet to handle, whose Data is valid only
	// during the call. It returns why the connection ended.
	serve(handle func(sioPacket)) error
	// heartbeats counts the heartbeats completed so far: pings answered
	// (protocol 4, where the server pings) or pongs received (protocol 3,
	// where the client pings).
	heartbeats() int64
	// close ends the connection; safe to call more than once.
	close()
}

// errServerClosed is what serve returns when the server sent a close packet.
var errServerClosed = errors.New("the server closed the session (close packet)")

// target is where and how the load generator connects: the server's
// Engine.IO endpoint, the protocol, the namespace, and the shared dialers.
type target struct {
	endpoint  *url.URL // http://host:port/socket.io/
	proto     int      // Engine.IO protocol, 3 or 4
	namespace string
	ws        *websocket.Dialer
	http      *http.Client
}

func newTarget(endpoint *url.URL, proto int, namespace string, sources *sourceDialer, conns int) *target {
	transport := &http.Transport{
		DialContext:         sources.DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &target{
		endpoint:  endpoint,
		proto:     proto,
		namespace: namespace,
		ws: &websocket.Dialer{
			NetDialContext:   sources.DialContext,
			HandshakeTimeout: 10 * time.Second,
			// Small buffers: a conns run holds 19,000 of these clients, and
			// benchmark packets are short.
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
		},
		http: &http.Client{Transport: transport},
	}
}

// url builds the endpoint's URL for a transport, with the room query when
// room is not empty.
func (t *target) url(transport, room string) string {
	u := *t.endpoint
	q := u.Query()
	q.Set("EIO", strconv.Itoa(t.proto))
	q.Set("transport", transport)
	if room != "" {
		q.Set("room", room)
	}
	u.RawQuery = q.Encode()
	if transport == "websocket" {
		switch u.Scheme {
		case "http":
			u.Scheme = "ws"
		case "https":
			u.Scheme = "wss"
		}
	}
	return u.String()
}

// dial opens a connection over transport ("websocket" or "polling") and
// connects it to the target's namespace.
func (t *target) dial(ctx context.Context, transport, room string) (client, error) {
	switch transport {
	case "websocket":
		return dialWebSocket(ctx, t, room)
	case "polling":
		return dialPolling(ctx, t, room)
	}
	return nil, fmt.Errorf("transport %q: use websocket or polling", transport)
}

// connectPacket is the Socket.IO CONNECT for the target's namespace. A
// protocol 3 server connects every client to "/" on its own, so the client
// asks only for other namespaces.
func (t *target) connectPacket() []byte {
	if t.proto == 3 && t.namespace == "/" {
		return nil
	}
	return appendSIO(nil, sioConnect, t.namespace, -1, nil)
}

// connectNamespace finishes a handshake once the open packet is in, over
// either transport: it sends the namespace's CONNECT (when the protocol asks
// for one), then takes packets from next, answering pings through send,
// until the server's answer to the CONNECT.
func (t *target) connectNamespace(next func() ([]byte, error), send func([]byte) error) error {
	if connect := t.connectPacket(); connect != nil {
		if err := send(connect); err != nil {
			return err
		}
	}
	for {
		p, err := next()
		if err != nil {
			return fmt.Errorf("waiting for the CONNECT of namespace %s: %v", t.namespace, err)
		}
		done, pong, err := t.connectStep(p)
		if err != nil {
			return err
		}
		if pong != nil {
			if err := send(pong); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// connectStep handles one packet received while waiting for the
// namespace's CONNECT answer: done reports the answer arrived; pong is a
// packet to send back (a ping's pong).
func (t *target) connectStep(p []byte) (done bool, pong []byte, err error) {
	if len(p) == 0 {
		return false, nil, nil
	}
	switch p[0] {
	case eioPing:
		if t.proto == 4 {
			return false, []byte{eioPong}, nil
		}
		return false, nil, nil
	case eioClose:
		return false, nil, errServerClosed
	case eioMessage:
		sp, err := decodeSIO(p)
		if err != nil {
			return false, nil, err
		}
		switch sp.Type {
		case sioConnect:
			return sp.Namespace == t.namespace, nil, nil
		case sioConnectError:
			return false, nil, &refusedError{namespace: sp.Namespace, data: clip(sp.Data)}
		}
	}
	return false, nil, nil
}

// refusedError is a namespace's connect_error: a middleware (a connect
// hook) or the namespace itself said no.
type refusedError struct{ namespace, data string }

func (e *refusedError) Error() string {
	return fmt.Sprintf("namespace %s refused the connection: %s", e.namespace, e.data)
}

// receive handles one Engine.IO packet that reached a connected client,
// the same over either transport: a pong completes a heartbeat, a close
// packet ends the session, a message goes to handle. A ping is reported for
// the client to answer in its transport's way.
func receive(p []byte, beats *atomic.Int64, handle func(sioPacket)) (ping bool, err error) {
	if len(p) == 0 {
		return false, nil
	}
	switch p[0] {
	case eioPing:
		return true, nil
	case eioPong:
		beats.Add(1)
	case eioClose:
		return false, errServerClosed
	case eioMessage:
		sp, err := decodeSIO(p)
		if err != nil {
			return false, err
		}
		handle(sp)
	}
	return false, nil
}

// pinger sends protocol 3 pings every interval until stopped: in protocol 3
// the client keeps the session alive.
type pinger struct {
	mu      sync.Mutex
	timer   *time.Timer // guarded by mu
	stopped bool        // guarded by mu
}

func startPinger(interval time.Duration, send func([]byte) error) *pinger {
	p := &pinger{}
	var tick func()
	tick = func() {
		if send([]byte{eioPing}) != nil {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.stopped {
			p.timer = time.AfterFunc(interval, tick)
		}
	}
	p.mu.Lock()
	p.timer = time.AfterFunc(interval, tick)
	p.mu.Unlock()
	return p
}

func (p *pinger) stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	p.timer.Stop()
}

// readAll reads r to its end into buf[:0], growing it as needed.
func readAll(buf []byte, r io.Reader) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
