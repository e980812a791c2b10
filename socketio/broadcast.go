package socketio

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// BroadcastOperator selects receivers for an emit, like Node's
// BroadcastOperator: Namespace.To("room").Except("other").Emit(...). Each
// method returns a new operator, so that one can be kept and reused.
type BroadcastOperator struct {
	nsp    *Namespace
	rooms  []string
	except []string
	flags  BroadcastFlags
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	c := *b
	c.rooms = append([]string(nil), b.rooms...)
	c.except = append([]string(nil), b.except...)
	return &c
}

// To adds rooms to the receivers.
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.rooms = append(c.rooms, rooms...)
	return c
}

// In is To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except excludes the sockets in rooms.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.except = append(c.except, rooms...)
	return c
}

// Volatile drops the packet for each receiver whose transport cannot
// write it at once, instead of queueing it (see BroadcastFlags.Volatile):
// for data that is stale by the time a slow client would get it.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	c := b.clone()
	c.flags.Volatile = true
	return c
}

// Local keeps the broadcast on this server.
func (b *BroadcastOperator) Local() *BroadcastOperator {
	c := b.clone()
	c.flags.Local = true
	return c
}

// Timeout sets how long EmitWithAck waits at most (besides its context).
func (b *BroadcastOperator) Timeout(d time.Duration) *BroadcastOperator {
	c := b.clone()
	c.flags.Timeout = d
	return c
}

func (b *BroadcastOperator) options() *BroadcastOptions {
	return &BroadcastOptions{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

// Emit sends an event to the selected sockets, encoded once for all.
func (b *BroadcastOperator) Emit(event string, args ...any) error {
	if reservedEvent(event) {
		return fmt.Errorf("socketio: %q is a reserved event name; pick another", event)
	}
	a, err := NewArgs(args...)
	if err != nil {
		return err
	}
	return b.nsp.adapter.Broadcast(&Packet{Type: PacketEvent, Namespace: b.nsp.name, EventName: event, Args: a}, b.options())
}

// EmitWithAck sends an event to the selected sockets and returns the
// arguments of each acknowledgement, once every receiver on every server
// has answered. When ctx or the Timeout flag ends the wait first, it
// returns the answers received so far and an error. It blocks: from an
// event handler, call it in a goroutine, or the answer of the client being
// handled cannot come in.
func (b *BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	answers, _, err := b.EmitWithAckCount(ctx, event, args...)
	return answers, err
}

// EmitWithAckCount is EmitWithAck, also returning the number of sockets
// the event went to, as the servers that answered in time counted them:
// when the wait ends early, len(answers) < clients tells how many were
// missing (an HTTP API answering {"clients": n, "acks": [...]} needs both).
func (b *BroadcastOperator) EmitWithAckCount(ctx context.Context, event string, args ...any) (answers []Args, clients int, err error) {
	if reservedEvent(event) {
		return nil, 0, fmt.Errorf("socketio: %q is a reserved event name; pick another", event)
	}
	a, err := NewArgs(args...)
	if err != nil {
		return nil, 0, err
	}
	if b.flags.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.flags.Timeout)
		defer cancel()
	}
	var (
		mu             sync.Mutex
		responses      []Args
		expectClients  int
		serversCounted int
		done           = make(chan struct{})
		finished       bool
	)
	expectServers := -1
	check := func() {
		if !finished && expectServers == serversCounted && len(responses) == expectClients {
			finished = true
			close(done)
		}
	}
	p := &Packet{Type: PacketEvent, Namespace: b.nsp.name, EventName: event, Args: a, ID: b.nsp.nextAckID(), HasID: true}
	err = b.nsp.adapter.BroadcastWithAck(p, b.options(),
		func(n int) {
			mu.Lock()
			expectClients += n
			serversCounted++
			check()
			mu.Unlock()
		},
		func(r Args) {
			mu.Lock()
			if !finished {
				responses = append(responses, r)
				check()
			}
			mu.Unlock()
		})
	if err != nil {
		return nil, 0, err
	}
	servers, err := b.nsp.adapter.ServerCount(ctx)
	if err != nil {
		return nil, 0, err
	}
	mu.Lock()
	expectServers = servers
	check()
	mu.Unlock()
	select {
	case <-done:
		mu.Lock()
		defer mu.Unlock()
		return responses, expectClients, nil
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		finished = true
		return append([]Args(nil), responses...), expectClients, fmt.Errorf("socketio: %d of %d acknowledgements of %q: %w", len(responses), expectClients, event, ctx.Err())
	}
}

// FetchSockets describes the selected sockets.
func (b *BroadcastOperator) FetchSockets(ctx context.Context) ([]RemoteSocket, error) {
	return b.nsp.adapter.FetchSockets(ctx, b.options())
}

// SocketsJoin makes the selected sockets join rooms.
func (b *BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return b.nsp.adapter.AddSockets(ctx, b.options(), rooms)
}

// SocketsLeave makes the selected sockets leave rooms.
func (b *BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return b.nsp.adapter.DelSockets(ctx, b.options(), rooms)
}

// DisconnectSockets disconnects the selected sockets; close also closes
// their connections.
func (b *BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return b.nsp.adapter.DisconnectSockets(ctx, b.options(), close)
}
