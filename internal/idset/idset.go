// Package idset is a hash table of objects found by an id each of them
// holds: open addressing with linear probing over a table of pointers and
// a byte of each one's hash, so that an entry costs 9 bytes of table where
// a map[string]*T keeps a copy of the id's string header besides the
// pointer (at 19,000 entries, about 16 bytes an entry against 46). The
// engine's sessions and a namespace's sockets, one per connection for its
// whole life, are kept in one.
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
	// tags holds a byte of each slot's hash (0 for a free slot), so that a
	// probe compares ids only where the bytes agree: one in 128 of the
	// other objects on its way, where it would otherwise load each one's id
	// from wherever the object is (at tens of thousands of entries, a cache
	// miss each, several per Put at three quarters full).
	tags []uint8
	n    int
}

// New returns an empty set of objects whose ids key returns.
func New[T any](key func(*T) string) Set[T] {
	return Set[T]{key: key, seed: maphash.MakeSeed()}
}

// Len is how many objects the set holds.
func (t *Set[T]) Len() int { return t.n }

// home is the slot where the probe for id starts, and the tag of id's
// slot; slots is not empty.
func (t *Set[T]) home(id string) (int, uint8) {
	h := maphash.String(t.seed, id)
	return int(h & uint64(len(t.slots)-1)), uint8(h>>57) | 0x80
}

// find returns the slot of the object with id, or the free slot where
// its probe ends and false; slots is not empty.
func (t *Set[T]) find(id string) (int, uint8, bool) {
	mask := len(t.slots) - 1
	i, tag := t.home(id)
	for ; ; i = (i + 1) & mask {
		switch t.tags[i] {
		case 0:
			return i, tag, false
		case tag:
			if t.key(t.slots[i]) == id {
				return i, tag, true
			}
		}
	}
}

// Get returns the object with id, or nil.
func (t *Set[T]) Get(id string) *T {
	if t.n == 0 {
		return nil
	}
	if i, _, ok := t.find(id); ok {
		return t.slots[i]
	}
	return nil
}

// Put adds o, in place of the object with its id if there is one.
func (t *Set[T]) Put(o *T) {
	if (t.n+1)*4 > len(t.slots)*3 { // at most three quarters full
		t.resize(max(8, 2*len(t.slots)))
	}
	i, tag, ok := t.find(t.key(o))
	if !ok {
		t.tags[i] = tag
		t.n++
	}
	t.slots[i] = o
}

// Delete removes the object with id, if there is one.
func (t *Set[T]) Delete(id string) {
	if t.n == 0 {
		return
	}
	i, _, ok := t.find(id)
	if !ok {
		return
	}
	// Close the gap: each object after it in the run moves back into it
	// unless its probe starts after the gap, which leaves no free slot
	// between any object and its home.
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.tags[j] != 0; j = (j + 1) & mask {
		if k, _ := t.home(t.key(t.slots[j])); (j-k)&mask >= (j-i)&mask {
			t.slots[i], t.tags[i] = t.slots[j], t.tags[j]
			i = j
		}
	}
	t.slots[i], t.tags[i] = nil, 0
	t.n--
	if t.n == 0 {
		t.slots, t.tags = nil, nil
	} else if len(t.slots) > 8 && t.n*8 < len(t.slots) { // a burst left: give its table back
		t.resize(len(t.slots) / 2)
	}
}

// resize moves the objects to a table of size slots.
func (t *Set[T]) resize(size int) {
	old := t.slots
	t.slots, t.tags = make([]*T, size), make([]uint8, size)
	mask := size - 1
	for _, o := range old {
		if o == nil {
			continue
		}
		i, tag := t.home(t.key(o))
		for t.tags[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i], t.tags[i] = o, tag
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
