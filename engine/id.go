package engine

import (
	"crypto/rand"
	"encoding/base64"
)

// newID returns a session id: 15 random bytes as 20 characters of base64url,
// the shape Node's base64id produces. Ids are bearer secrets: anyone holding
// one can read and write the session over polling, so they are never logged
// above debug level.
func newID() string {
	var b [15]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
