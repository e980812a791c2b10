package socketio

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestSocketSetAgreesWithAMap runs random adds and removals on a
// socketSet and a map side by side, from empty to thousands of sockets and
// back, and checks after each that both hold the same sockets.
func TestSocketSetAgreesWithAMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	set := newSocketSet()
	want := map[string]*Socket{}
	check := func(step int) {
		t.Helper()
		if set.n != len(want) {
			t.Fatalf("step %d: %d sockets, want %d", step, set.n, len(want))
		}
		seen := 0
		for s := range set.all() {
			if want[s.id] != s {
				t.Fatalf("step %d: all yields socket %q, which is not in the set", step, s.id)
			}
			seen++
		}
		if seen != len(want) {
			t.Fatalf("step %d: all yields %d sockets, want %d", step, seen, len(want))
		}
		for id, s := range want {
			if got := set.get(id); got != s {
				t.Fatalf("step %d: get(%q) = %p, want %p", step, id, got, s)
			}
		}
	}
	// Grow to 3000 ids out of 4000 (adds and removals mixed), then shrink
	// to none: collisions, runs across the table's end, growth and
	// shrinking all happen on the way.
	for step := range 12000 {
		id := strconv.Itoa(r.IntN(4000))
		remove := r.IntN(4) == 0
		if step >= 8000 {
			remove = r.IntN(8) != 0
		}
		if remove {
			set.delete(id)
			delete(want, id)
		} else {
			s := &Socket{id: id}
			set.put(s)
			want[id] = s
		}
		if step%97 == 0 || step > 11900 {
			check(step)
		}
	}
	for id := range want {
		set.delete(id)
		delete(want, id)
	}
	check(-1)
	if set.slots != nil {
		t.Errorf("an empty set keeps a table of %d slots", len(set.slots))
	}
	if set.get("1") != nil {
		t.Error("an empty set finds a socket")
	}
}

func TestSocketSetShrinksAfterABurst(t *testing.T) {
	set := newSocketSet()
	sockets := make([]*Socket, 10000)
	for i := range sockets {
		sockets[i] = &Socket{id: strconv.Itoa(i)}
		set.put(sockets[i])
	}
	for _, s := range sockets[10:] {
		set.delete(s.id)
	}
	if len(set.slots) > 128 {
		t.Errorf("10 sockets left of 10000 keep a table of %d slots", len(set.slots))
	}
	for _, s := range sockets[:10] {
		if set.get(s.id) != s {
			t.Errorf("socket %q lost", s.id)
		}
	}
}
