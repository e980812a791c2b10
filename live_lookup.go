package caddysocketio

// lookupLiveServer returns the live server called name (a handler's name,
// its path by default), or nil when no running config has one: the admin
// API, the HTTP API and the Admin UI find their server with it. The pool
// key may carry an adapter suffix (see Handler.Provision), so servers are
// matched by their own name. While a
// reload replaces a server by a new one of the same name (one that adds or
// removes the adapter), the newer is returned.
func lookupLiveServer(name string) *liveServer {
	var found *liveServer
	servers.Range(func(_, value any) bool {
		l, ok := value.(*liveServer)
		if !ok || l.name != name {
			return true
		}
		l.mu.Lock()
		stopped := l.stopped
		l.mu.Unlock()
		if !stopped && (found == nil || l.born > found.born) {
			found = l
		}
		return true
	})
	return found
}

// liveServerNames lists the names of the live servers, each once.
func liveServerNames() []string {
	seen := map[string]bool{}
	var names []string
	servers.Range(func(_, value any) bool {
		if l, ok := value.(*liveServer); ok && !seen[l.name] {
			seen[l.name] = true
			names = append(names, l.name)
		}
		return true
	})
	return names
}
