package engine

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
)

// idBytes is one session id's randomness.
const idBytes = 15

// idPool holds random bytes for the next ids, read from crypto/rand 64 ids
// at a time: one getrandom system call per handshake was a measurable part
// of a polling handshake's cost. Node's base64id pools its random bytes the
// same way. Bytes handed out are zeroed in the pool.
var idPool = struct {
	sync.Mutex
	buf [64 * idBytes]byte
	off int // next unused byte; len(buf): refill first
}{off: 64 * idBytes}

// newID returns a session id: 15 random bytes as 20 characters of base64url,
// the shape Node's base64id produces. Ids are bearer secrets: anyone holding
// one can read and write the session over polling, so they are never logged
// above debug level.
func newID() string {
	var b [idBytes]byte
	idPool.Lock()
	if idPool.off == len(idPool.buf) {
		rand.Read(idPool.buf[:]) // never fails (crypto/rand panics instead)
		idPool.off = 0
	}
	used := idPool.buf[idPool.off : idPool.off+idBytes]
	copy(b[:], used)
	clear(used)
	idPool.off += idBytes
	idPool.Unlock()
	return base64.RawURLEncoding.EncodeToString(b[:])
}
