package caddysocketio

// lookupLiveServer returns the live server called name (a handler's name,
// its path by default), or nil when no running config has one. While a
// reload replaces a server by a new one of the same name (one that adds or
// removes the adapter), the newer is returned.
func lookupLiveServer(name string) *liveServer {
	var found *liveServer
	var newest uint64
	servers.Range(func(_, value any) bool {
		l, ok := value.(*liveServer)
		if !ok || l.name != name {
			return true
		}
		l.mu.Lock()
		gen, stopped := l.lastGen, l.stopped
		l.mu.Unlock()
		if !stopped && (found == nil || gen > newest) {
			found, newest = l, gen
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
