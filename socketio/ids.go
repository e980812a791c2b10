package socketio

import (
	"crypto/rand"
	"encoding/base64"
)

// newSocketID returns a random id of 20 characters, like Node's base64id:
// 15 random bytes in URL-safe base64. It is public (clients see it, rooms
// are named by it), so it is never the Engine.IO session id, which
// authenticates the session's requests.
func newSocketID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}
