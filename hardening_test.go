package caddysocketio

import (
	"path/filepath"
	"testing"
)

// Defects found by trying the handler as an attacker would (issue 13), each
// shown with real clients through the in-process Caddy.

func hardeningClient(t *testing.T, addr, scenario string) *nodeClient {
	t.Helper()
	return startNode(t, filepath.Join("testdata", "clients", "hardening.js"), "URL=http://"+addr, "SCENARIO="+scenario)
}

// A reload that narrows or removes `relay`, or removes a namespace, takes
// effect for the sockets already connected.
func TestReloadNarrowingRelayTakesEffect(t *testing.T) {
	addr := inProcessCaddy(t)
	loadCaddyfile(t, site(addr, `
	socketio {
		namespace /chat {
			relay message other
		}
		namespace /gone {
			relay
		}
	}`))
	c := hardeningClient(t, addr, "relay-reload")
	c.expect(t, "before", `{"chat":[["message","m1"],["other","o1"]],"gone":[["x","x1"]]}`)

	loadCaddyfile(t, site(addr, `
	socketio {
		namespace /chat {
			relay other
		}
	}`))
	live := liveServerNamed(t, "/socket.io/")
	if err := live.io.Of("/chat").Emit("reloaded"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "narrowed", `{"chat":[["other","o2"]],"gone":[]}`)

	loadCaddyfile(t, site(addr, `
	socketio {
		namespace /chat {
			join everyone
		}
		namespace /signal {
			relay done
		}
	}`))
	if err := live.io.Of("/chat").Emit("reloaded"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "removed", `{"chat":[],"gone":[]}`)
	c.wait(t)
}
