package caddysocketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-socketio/caddy-socketio/httpapi"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "socketio",
		Usage: "emit|sockets|rooms --address <api url> ...",
		Short: "Calls the HTTP API of a socketio server (socketio_api): emit, list sockets or rooms",
		Long: `
Calls the socketio_api handler of a running Caddy, for scripts and cron jobs.
The API key is read from the environment variable SOCKETIO_API_KEY (or the
one --key-env names), never from the command line, where other users and
shell histories would see it.

  caddy socketio emit --address http://10.0.0.5:9000/socketio-api --room r1 news '{"title": "hi"}'
  caddy socketio sockets --address http://10.0.0.5:9000/socketio-api --room r1
  caddy socketio rooms --address http://10.0.0.5:9000/socketio-api

Each JSON argument after the event is one argument of the emit. The answer
is printed as JSON; a refused request exits with status 1 and the API's error.
`,
		CobraFunc: func(cmd *cobra.Command) {
			for _, sub := range socketioCommands() {
				cmd.AddCommand(sub)
			}
		},
	})
}

// apiFlags are the flags every subcommand shares.
type apiFlags struct {
	address, namespace, keyEnv string
	timeout                    time.Duration
}

func (f *apiFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.address, "address", os.Getenv("SOCKETIO_API_URL"), "where the socketio_api handler is, such as http://10.0.0.5:9000/socketio-api (default $SOCKETIO_API_URL)")
	cmd.Flags().StringVar(&f.namespace, "namespace", "/", "the namespace")
	cmd.Flags().StringVar(&f.keyEnv, "key-env", "SOCKETIO_API_KEY", "the environment variable holding the API key")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the answer")
}

func (f *apiFlags) client() (*httpapi.Client, error) {
	if f.address == "" {
		return nil, errors.New("--address is missing: give the URL of the socketio_api handler, such as http://10.0.0.5:9000/socketio-api (or set SOCKETIO_API_URL)")
	}
	u, err := url.Parse(f.address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--address %q is not an http:// or https:// URL", f.address)
	}
	return &httpapi.Client{BaseURL: f.address, Key: os.Getenv(f.keyEnv), HTTP: &http.Client{Timeout: f.timeout}}, nil
}

// explain adds the likely cause to an API error.
func (f *apiFlags) explain(err error) error {
	var e *httpapi.Error
	if errors.As(err, &e) && e.Status == http.StatusUnauthorized && os.Getenv(f.keyEnv) == "" {
		return fmt.Errorf("%w (the environment variable %s, which should hold the key, is not set)", err, f.keyEnv)
	}
	return err
}

func socketioCommands() []*cobra.Command {
	return []*cobra.Command{emitCommand(), socketsCommand(), roomsCommand()}
}

func emitCommand() *cobra.Command {
	var f apiFlags
	var rooms, except []string
	var volatile bool
	var ackTimeout time.Duration
	var idempotencyKey string
	cmd := &cobra.Command{
		Use:   "emit --address <api url> [--room <room>]... [--except <room>]... [--ack-timeout <duration>] <event> [<json arg>...]",
		Short: "Emits an event to the clients in rooms (all when none), printing the acks with --ack-timeout",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ackTimeout > 0 && f.timeout < ackTimeout+5*time.Second {
				f.timeout = ackTimeout + 5*time.Second // the API answers at the ack timeout
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			body := map[string]any{"namespace": f.namespace, "event": args[0], "args": []json.RawMessage{}}
			for i, a := range args[1:] {
				if !json.Valid([]byte(a)) {
					return fmt.Errorf("argument %d of the event, %q, is not JSON; quote a string as '\"%s\"'", i+1, a, a)
				}
				body["args"] = append(body["args"].([]json.RawMessage), json.RawMessage(a))
			}
			if len(rooms) > 0 {
				body["rooms"] = rooms
			}
			if len(except) > 0 {
				body["except"] = except
			}
			if volatile {
				body["volatile"] = true
			}
			if ackTimeout > 0 {
				body["ack_timeout_ms"] = ackTimeout.Milliseconds()
			}
			ans, err := c.Call(cmd.Context(), http.MethodPost, "/emit", nil, body, idempotencyKey)
			if err != nil {
				return f.explain(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(ans))
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&rooms, "room", nil, "a room to emit to (repeatable); every client of the namespace when none")
	cmd.Flags().StringArrayVar(&except, "except", nil, "a room whose clients are left out (repeatable)")
	cmd.Flags().BoolVar(&volatile, "volatile", false, "drop the event for clients that cannot take it at once")
	cmd.Flags().DurationVar(&ackTimeout, "ack-timeout", 0, "wait this long for the clients' acknowledgements and print them")
	cmd.Flags().StringVar(&idempotencyKey, "idempotency-key", "", "an Idempotency-Key: a retry with the same key does not emit again")
	return cmd
}

func socketsCommand() *cobra.Command {
	var f apiFlags
	var rooms []string
	var limit int
	cmd := &cobra.Command{
		Use:   "sockets --address <api url> [--room <room>]...",
		Short: "Lists the sockets in rooms on every node, as {\"sockets\": [...]}",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			all := []json.RawMessage{}
			cursor := ""
			for {
				q := url.Values{"namespace": {f.namespace}, "room": rooms, "limit": {strconv.Itoa(limit)}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				ans, err := c.Call(cmd.Context(), http.MethodGet, "/sockets", q, nil, "")
				if err != nil {
					return f.explain(err)
				}
				var page struct {
					Sockets    []json.RawMessage `json:"sockets"`
					NextCursor *string           `json:"next_cursor"`
				}
				if err := json.Unmarshal(ans, &page); err != nil {
					return fmt.Errorf("the API's answer is not a page of sockets: %v", err)
				}
				all = append(all, page.Sockets...)
				if page.NextCursor == nil {
					break
				}
				cursor = *page.NextCursor
			}
			out, _ := json.Marshal(map[string]any{"sockets": all})
			fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&rooms, "room", nil, "a room whose sockets to list (repeatable); all when none")
	cmd.Flags().IntVar(&limit, "page-size", 1000, "sockets asked for per request")
	return cmd
}

func roomsCommand() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use:   "rooms --address <api url>",
		Short: "Lists the rooms on every node and their number of sockets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ans, err := c.Call(cmd.Context(), http.MethodGet, "/rooms", url.Values{"namespace": {f.namespace}}, nil, "")
			if err != nil {
				return f.explain(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(ans))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
