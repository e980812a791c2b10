package caddysocketio

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runSubcommand runs a `caddy socketio` subcommand as the caddy binary
// would, returning what it printed.
func runSubcommand(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(context.Background())
	return strings.TrimSpace(out.String()), err
}

func TestSocketIOCommandsCallTheAPI(t *testing.T) {
	addr := inProcessCaddy(t)
	t.Setenv("TEST_SOCKETIO_API_KEY", "cmd-key")
	loadCaddyfile(t, site(addr, `
	handle_path /api/* {
		socketio_api {
			key {env.TEST_SOCKETIO_API_KEY}
		}
	}
	socketio {
		namespace / {
			join {query.room}
		}
	}`))
	base := "http://" + addr
	c := startNode(t, "httpapi/testdata/clients.js", "URL="+base, "CLIENTS=a4:v4:r1")
	c.expect(t, "connected", "a4")
	api := base + "/api"

	t.Setenv("SOCKETIO_API_KEY", "cmd-key")
	out, err := runSubcommand(t, emitCommand(), "--address", api, "--room", "r1", "news", `{"json": 1}`, `"two"`)
	if err != nil || out != "{}" {
		t.Fatalf("emit: %q, %v", out, err)
	}
	c.expect(t, "event", `a4 news [{"json":1},"two"]`)
	out, err = runSubcommand(t, emitCommand(), "--address", api, "--ack-timeout", "5s", "ask", "7")
	if want := `{"clients":1,"acks":[{"name":"a4","got":7}],"timed_out":false}`; err != nil || out != want {
		t.Errorf("emit with acks printed %q (%v), want %s", out, err, want)
	}
	c.expect(t, "event", `a4 ask [7]`)
	out, err = runSubcommand(t, socketsCommand(), "--address", api, "--room", "r1", "--page-size", "1")
	if err != nil || !strings.HasPrefix(out, `{"sockets":[{"id":"`) || strings.Count(out, `"id"`) != 1 || !strings.Contains(out, `"name":"a4"`) {
		t.Errorf("sockets printed %q (%v)", out, err)
	}
	out, err = runSubcommand(t, roomsCommand(), "--address", api)
	if err != nil || out != `{"rooms":[{"name":"r1","sockets":1}]}` {
		t.Errorf("rooms printed %q (%v)", out, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"e", "not json"}, `argument 1 of the event, "not json", is not JSON; quote a string as '"not json"'`},
		{[]string{"--address", "", "e"}, "--address is missing"},
		{[]string{"--address", "10.0.0.5:9000", "e"}, `--address "10.0.0.5:9000" is not an http:// or https:// URL`},
		{[]string{"--key-env", "TEST_SOCKETIO_NO_SUCH_VAR", "e"}, "the API answered 401 unauthorized: no API key; send the header \"Authorization: Bearer <key>\" (the environment variable TEST_SOCKETIO_NO_SUCH_VAR, which should hold the key, is not set)"},
		{[]string{"--namespace", "/nope", "e"}, `the API answered 404 unknown_namespace: namespace "/nope" does not exist`},
	} {
		args := append([]string{"--address", api}, tc.args...)
		_, err := runSubcommand(t, emitCommand(), args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("emit %q: %v, want %q", tc.args, err, tc.want)
		}
	}
}
