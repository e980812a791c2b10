package redisadapter

// The channels of one namespace, named as in @socket.io/redis-adapter:
// "<prefix>#<nsp>#" for broadcasts to everyone, "<prefix>#<nsp>#<room>#" for
// broadcasts to exactly one room (so that a node could subscribe per room),
// "<prefix>-request#<nsp>#" and "<prefix>-response#<nsp>#" for requests and
// their answers, and "<prefix>-response#<nsp>#<uid>#" for answers meant for
// one node only (Node's publishOnSpecificResponseChannel).
type channels struct {
	broadcast        string // also the prefix of every room channel
	pattern          string // what PSUBSCRIBE takes
	request          string
	response         string
	specificResponse string
}

func channelsOf(prefix, nsp, uid string) channels {
	b := prefix + "#" + nsp + "#"
	return channels{
		broadcast:        b,
		pattern:          b + "*",
		request:          prefix + "-request#" + nsp + "#",
		response:         prefix + "-response#" + nsp + "#",
		specificResponse: prefix + "-response#" + nsp + "#" + uid + "#",
	}
}

// broadcastChannel is where a broadcast to rooms goes: the room's own
// channel when there is exactly one.
func broadcastChannel(prefix, nsp string, rooms []string) string {
	if len(rooms) == 1 {
		return prefix + "#" + nsp + "#" + rooms[0] + "#"
	}
	return prefix + "#" + nsp + "#"
}
