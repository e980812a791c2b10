package socketio

import "strings"

// LookupNamespace returns the namespace called name when it exists, without
// creating it as Of does: code that takes namespace names from outside (an
// HTTP API, say) must not create one per name it is sent. A name without a
// leading slash gets one, as with Of.
func (srv *Server) LookupNamespace(name string) (*Namespace, bool) {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	n := srv.namespace(name)
	return n, n != nil
}
