package socketio

import (
	"slices"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

func batchEvent(t *testing.T, name string, v any) *Packet {
	t.Helper()
	a, err := NewArgs(v)
	if err != nil {
		t.Fatal(err)
	}
	return &Packet{Type: PacketEvent, EventName: name, Args: a}
}

// Broadcasts queued in one batch reach every receiver once, in the order
// they were queued, stored with consecutive offsets: a client that
// recovers from the offset of one of them gets exactly the ones after.
// What is queued without the batch, after it, comes after it.
func TestBroadcastsOfABatchArriveInOrderAndRecoverFromTheirOffsets(t *testing.T) {
	ts := recoveryServer(t, RecoveryOptions{})
	c, _ := connectRecovering(t, ts, "")
	other, _ := connectRecovering(t, ts, "")
	ts.waitSeen(connected(other.sid, false), 1)
	a := ts.io.Of("/").Adapter().(*MemoryAdapter)

	var b engine.Batch
	for i := 1; i <= 5; i++ {
		if err := a.BroadcastIn(&b, batchEvent(t, "n", i), &BroadcastOptions{Rooms: []string{"room1"}}); err != nil {
			t.Fatal(err)
		}
	}
	// A volatile packet is not held: the receivers' queues are not empty,
	// so it is dropped, as when a write is under way.
	_ = a.BroadcastIn(&b, batchEvent(t, "volatile", 0), &BroadcastOptions{Flags: BroadcastFlags{Volatile: true}})
	b.Flush()
	ts.io.To("room1").Emit("after", 6)

	want := []string{`42["n",1]`, `42["n",2]`, `42["n",3]`, `42["n",4]`, `42["n",5]`, `42["after",6]`}
	var offsets []string
	for _, cl := range []*recoveringClient{c, other} {
		var got []string
		for range want {
			got = append(got, cl.event())
			if cl == c {
				offsets = append(offsets, cl.offset)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("client got %q, want %q", got, want)
		}
	}
	if len(slices.Compact(slices.Clone(offsets))) != len(want) {
		t.Errorf("offsets %q are not one per event", offsets)
	}

	c.drop(ts)
	c.offset = offsets[2] // as if it had seen up to n 3
	back, missed := connectRecovering(t, ts, c.auth())
	if back.sid != c.sid {
		t.Fatalf("recovered as %s, want %s", back.sid, c.sid)
	}
	if want := []string{`42["n",4]`, `42["n",5]`, `42["after",6]`}; !slices.Equal(missed, want) {
		t.Errorf("recovering from n 3's offset replayed %q, want %q", missed, want)
	}
}

// A store's packets, given their offsets, in one batch: each receiver
// gets them in order with those offsets.
func TestBroadcastOffsetInKeepsTheStoresOrderAndOffsets(t *testing.T) {
	ts := startServerWith(t, "", engine.Options{}, Options{Adapter: newListStore, ConnectionStateRecovery: &RecoveryOptions{}}, func(*testServer) {})
	c, _ := connectRecovering(t, ts, "")
	a := ts.io.Of("/").Adapter().(*listStore).MemoryAdapter
	var b engine.Batch
	for i, off := range []string{"1-0", "1-1", "2-0"} {
		if err := a.BroadcastOffsetIn(&b, batchEvent(t, "n", i), &BroadcastOptions{}, off); err != nil {
			t.Fatal(err)
		}
	}
	b.Flush()
	for _, want := range []string{`42["n",0,"1-0"]`, `42["n",1,"1-1"]`, `42["n",2,"2-0"]`} {
		if got := c.read(); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}
