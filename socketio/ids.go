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

// LooksLikeSocketID reports whether name has the shape of a socket id: 20
// characters of URL-safe base64. Every socket is in the room named by its
// id, so whoever joins a room of that name receives what is sent to that
// socket; a room named from client input must never have this shape. The
// shape, not a look-up, is what counts: the socket may be on another
// server of a cluster, or connect later.
func LooksLikeSocketID(name string) bool {
	if len(name) != 20 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
