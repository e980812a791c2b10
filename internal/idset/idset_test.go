package idset

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// item is what the tests keep in a Set.
type item struct{ id string }

func newItemSet() Set[item] { return New(func(o *item) string { return o.id }) }

// TestSetAgreesWithAMap runs random adds and removals on a Set and a map
// side by side, from empty to thousands of objects and back, and checks
// after each that both hold the same objects.
func TestSetAgreesWithAMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	set := newItemSet()
	want := map[string]*item{}
	check := func(step int) {
		t.Helper()
		if set.Len() != len(want) {
			t.Fatalf("step %d: %d items, want %d", step, set.Len(), len(want))
		}
		seen := 0
		for s := range set.All() {
			if want[s.id] != s {
				t.Fatalf("step %d: all yields item %q, which is not in the set", step, s.id)
			}
			seen++
		}
		if seen != len(want) {
			t.Fatalf("step %d: All yields %d items, want %d", step, seen, len(want))
		}
		for id, s := range want {
			if got := set.Get(id); got != s {
				t.Fatalf("step %d: Get(%q) = %p, want %p", step, id, got, s)
			}
		}
		// Ids never added and ids removed: their probes pass objects
		// whose hash bytes agree with theirs (1 in 128) and must go on.
		for i := range 4100 {
			id := strconv.Itoa(i)
			if _, in := want[id]; !in && set.Get(id) != nil {
				t.Fatalf("step %d: Get(%q) finds an object not in the set", step, id)
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
			set.Delete(id)
			delete(want, id)
		} else {
			s := &item{id: id}
			set.Put(s)
			want[id] = s
		}
		if step%97 == 0 || step > 11900 {
			check(step)
		}
	}
	for id := range want {
		set.Delete(id)
		delete(want, id)
	}
	check(-1)
	if set.slots != nil || set.tags != nil {
		t.Errorf("an empty set keeps a table of %d slots", len(set.slots))
	}
	if set.Get("1") != nil {
		t.Error("an empty set finds an object")
	}
}

func TestSetShrinksAfterABurst(t *testing.T) {
	set := newItemSet()
	items := make([]*item, 10000)
	for i := range items {
		items[i] = &item{id: strconv.Itoa(i)}
		set.Put(items[i])
	}
	for _, s := range items[10:] {
		set.Delete(s.id)
	}
	if len(set.slots) > 128 {
		t.Errorf("10 objects left of 10000 keep a table of %d slots", len(set.slots))
	}
	for _, s := range items[:10] {
		if set.Get(s.id) != s {
			t.Errorf("item %q lost", s.id)
		}
	}
}

// BenchmarkPutDelete adds, finds and removes an object in a set of
// 190,000 (three quarters of its table) whose objects are the size of an
// engine session and lie apart on the heap, as the sessions do under a
// storm of handshakes: what a probe costs where its loads miss the cache.
func BenchmarkPutDelete(b *testing.B) {
	type session struct {
		id string
		_  [240]byte
	}
	set := New(func(s *session) string { return s.id })
	for i := range 190_000 {
		set.Put(&session{id: "s" + strconv.Itoa(i)})
	}
	fresh := make([]*session, 4096)
	for i := range fresh {
		fresh[i] = &session{id: "f" + strconv.Itoa(i)}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		o := fresh[i%len(fresh)]
		set.Put(o)
		if set.Get(o.id) != o {
			b.Fatal("lost")
		}
		set.Delete(o.id)
	}
}

// BenchmarkGrow adds 170,000 session-sized objects to an empty set, its
// growth included: ten seconds of abandoned polling handshakes, which
// stay in the engine's set until their ping timeout.
func BenchmarkGrow(b *testing.B) {
	type session struct {
		id string
		_  [240]byte
	}
	objects := make([]*session, 170_000)
	for i := range objects {
		objects[i] = &session{id: "s" + strconv.Itoa(i)}
	}
	b.ResetTimer()
	for b.Loop() {
		set := New(func(s *session) string { return s.id })
		for _, o := range objects {
			set.Put(o)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(objects)), "ns/put")
}
