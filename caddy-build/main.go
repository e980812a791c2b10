// Command caddy-build is a Caddy binary with Caddy's standard modules and the
// socketio handler, the same thing `xcaddy build --with` produces elsewhere.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-socketio/caddy-socketio"
)

func main() {
	caddycmd.Main()
}
