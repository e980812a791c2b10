// Package idset is a hash table of objects found by an id each of them
// holds: open addressing with linear probing over a table of pointers, so
// that an entry costs one 8-byte slot where a map[string]*T keeps a copy
// of the id's string header besides the pointer (at 19,000 entries, about
// 14 bytes an entry against 46). The engine's sessions and a namespace's
// sockets, one per connection for its whole life, are kept in one.
//
// # Concurrency
//
// A Set is not safe for concurrent use: its owner guards it with its own
// lock, as it would a map.
package idset

import (
	"hash/maphash"
	"iter"
)

// Set holds *T by the id key returns for each; the ids of the objects in
// it must not change. The zero Set is not usable: make one with New.
type Set[T any] struct {
	key   func(*T) string
	seed  maphash.Seed
	slots []*T // a power of two of them, or none; nil is a free slot
	n     int
}

// New returns an empty set of objects whose ids key returns.
func New[T any](key func(*T) string) Set[T] {
	return Set[T]{key: key, seed: maphash.MakeSeed()}
}

// Len is how many objects the set holds.
func (t *Set[T]) Len() int { return t.n }

// home is the slot where the probe for id starts; slots is not empty.
func (t *Set[T]) home(id string) int {
	return int(maphash.String(t.seed, id) & uint64(len(t.slots)-1))
}

// Get returns the object with id, or nil.
func (t *Set[T]) Get(id string) *T {
	if t.n == 0 {
		return nil
	}
	mask := len(t.slots) - 1
	for i := t.home(id); ; i = (i + 1) & mask {
		switch o := t.slots[i]; {
		case o == nil:
			return nil
		case t.key(o) == id:
			return o
		}
	}
}

// Put adds o, in place of the object with its id if there is one.
func (t *Set[T]) Put(o *T) {
	if (t.n+1)*4 > len(t.slots)*3 { // at most three quarters full
		t.resize(max(8, 2*len(t.slots)))
	}
	id := t.key(o)
	mask := len(t.slots) - 1
	for i := t.home(id); ; i = (i + 1) & mask {
		switch p := t.slots[i]; {
		case p == nil:
			t.slots[i] = o
			t.n++
			return
		case t.key(p) == id:
			t.slots[i] = o
			return
		}
	}
}

// Delete removes the object with id, if there is one.
func (t *Set[T]) Delete(id string) {
	if t.n == 0 {
		return
	}
	mask := len(t.slots) - 1
	i := t.home(id)
	for {
		o := t.slots[i]
		if o == nil {
			return
		}
		if t.key(o) == id {
			break
		}
		i = (i + 1) & mask
	}
	// Close the gap: each object after it in the run moves back into it
	// unless its probe starts after the gap, which leaves no free slot
	// between any object and its home.
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		if k := t.home(t.key(t.slots[j])); (j-k)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
	if t.n == 0 {
		t.slots = nil
	} else if len(t.slots) > 8 && t.n*8 < len(t.slots) { // a burst left: give its table back
		t.resize(len(t.slots) / 2)
	}
}

// resize moves the objects to a table of size slots.
func (t *Set[T]) resize(size int) {
	old := t.slots
	t.slots = make([]*T, size)
	mask := size - 1
	for _, o := range old {
		if o == nil {
			continue
		}
		i := t.home(t.key(o))
		for t.slots[i] != nil {
			i = (i + 1) & mask
		}
		t.slots[i] = o
	}
}

// All yields the objects, in no particular order; the set must not change
// meanwhile.
func (t *Set[T]) All() iter.Seq[*T] {
	return func(yield func(*T) bool) {
		for _, o := range t.slots {
			if o != nil && !yield(o) {
				return
			}
		}
	}
}
