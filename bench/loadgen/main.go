// Command loadgen measures a Socket.IO server from the outside: its own
// client implementation of Engine.IO 4 / Socket.IO 5 and Engine.IO 3 /
// Socket.IO 4, over WebSocket and HTTP long-polling, drives one scenario and
// prints one JSON result line, reading the server's CPU time and resident
// memory from /proc when given its process id. It imports nothing of the
// server it measures.
//
//	loadgen -scenario conns     -n 19000 -pid $PID   # idle connections held through a heartbeat
//	loadgen -scenario echo      -c 50 -d 10s         # emit with ack, each client in its own room
//	loadgen -scenario fanout    -n 1000 -d 10s       # one sender, relay to every other socket
//	loadgen -scenario fanout    -n 1000 -url2 URL    # the same over two nodes sharing a Redis
//	loadgen -scenario handshake -c 50 -d 10s         # abandoned polling handshakes
//	loadgen -scenario polling   -c 50 -d 10s         # echo over long-polling only
//	loadgen -scenario openloop  -c 50 -offered 5000  # the echo at a fixed offered rate (openloop.go)
//	loadgen -scenario stalled -n 1000 -c 100 -events 300 -pad 100000 -pid $PID  # stalled readers (stress.go)
//	loadgen -scenario cycles  -n 10000 -c 50 -pprof URL   # connect/disconnect cycles over every transport
//	loadgen -scenario slow    -n 5000 -c 100              # slow requests beside normal clients
//	loadgen -scenario reload  -n 2000 -reloads 20 -admin http://127.0.0.1:2019  # Caddy reloads under load (stress_reload.go)
//	loadgen -scenario echo -variant hook -hook-backend URL   # the echo answered by a backend hook
//	loadgen -scenario storm -n 5000 -hook-backend URL         # all connecting at once through a connect hook
//	loadgen hookbackend -connect-delay 20ms               # the backend of those two (hookbackend.go)
//	loadgen table results.jsonl                      # medians and ratios of many result lines
//
// The server is expected to relay: join the room of the handshake's `room`
// query, relay each event to the sender's rooms (or the whole namespace),
// and answer an ack with no arguments; bench/node/server.js is the Node
// reference, the Caddy module's `namespace / { relay; join {query.room} }`
// the same thing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "hookbackend" {
		if err := runHookBackend(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen hookbackend:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "table" {
		if err := runTable(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen table:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if err := r.write(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	scenario, endpoint, endpoint2, namespace, transport, label, variant, sources string
	pprof, pprof2, pprofOut                                                      string
	proto, n, c, rate, pid, pid2, pad, window, events, offered, ops              int
	duration, hold, pause                                                        time.Duration
	idlePoll, stalledWS                                                          bool
	emitVia, apiURL, apiKeyEnv, redisAddr, room                                  string
	hookBackend                                                                  string
	stormDeadline                                                                time.Duration
	reload                                                                       reloadSetup
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&o.scenario, "scenario", "echo", "conns, echo, openloop, fanout, handshake, polling or storm (and the stress scenarios)")
	fs.StringVar(&o.endpoint, "url", "http://127.0.0.1:3000/socket.io/", "the server's Engine.IO endpoint")
	fs.StringVar(&o.endpoint2, "url2", "", "fanout: a second server node's endpoint (the two share a Redis): the odd receivers connect to it, the sender and the even receivers to -url")
	fs.StringVar(&o.namespace, "ns", "/", "the relay namespace")
	fs.IntVar(&o.proto, "eio", 4, "Engine.IO protocol: 4 (Socket.IO v3/v4 clients) or 3 (v2 clients)")
	fs.StringVar(&o.transport, "transport", "websocket", "transport of conns, echo and the fanout receivers: websocket or polling")
	fs.IntVar(&o.n, "n", 1000, "connections (conns) or receivers (fanout)")
	fs.IntVar(&o.c, "c", 50, "concurrent clients (echo, handshake, polling)")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "measured duration (echo, fanout, handshake, polling)")
	fs.DurationVar(&o.pause, "pause", 0, "echo, fanout, handshake, polling: after each operation (a fanout's event: once every receiver has it) wait this long before the next, so that the server is idle when each one comes; with -ops, for instruction counts that do not depend on timing")
	fs.IntVar(&o.ops, "ops", 0, "echo, fanout, handshake, polling: end the measured window after this many operations (acks, events sent, handshakes), or at -d if that comes first; 0: at -d")
	fs.DurationVar(&o.hold, "hold", 0, "conns: how long to hold the connections after the ramp; 0 is 5 s, 4 ping intervals (the heartbeat window) and 5 s more: 110 s at a 25 s interval")
	fs.IntVar(&o.rate, "ramp", 2000, "connections opened per second")
	fs.IntVar(&o.offered, "offered", 0, "openloop: events per second offered, over all -c clients, whether or not the acks keep up")
	fs.IntVar(&o.pid, "pid", 0, "server process id: its CPU time and memory (children included) are read from /proc")
	fs.IntVar(&o.pid2, "pid2", 0, "with -url2: the second node's process id, measured as -pid is")
	fs.StringVar(&o.label, "label", "", "server name written in the result (node, caddy)")
	fs.StringVar(&o.variant, "variant", "", "free-form variant name written in the result")
	fs.IntVar(&o.pad, "pad", 0, "extra payload bytes in every event")
	fs.IntVar(&o.events, "events", 300, "stalled: events the sender emits")
	fs.IntVar(&o.window, "window", 4, "fanout: events in flight before the sender waits for the receivers")
	fs.BoolVar(&o.idlePoll, "idle-polling", false, "fanout: keep one polling session in the namespace that never polls")
	fs.BoolVar(&o.stalledWS, "stalled-websocket", false, "fanout: keep one WebSocket client in the namespace that never reads")
	fs.StringVar(&o.pprof, "pprof", "", "base URL of the server's /debug/pprof/ (Caddy's admin address): save a CPU profile of the measured window, or a heap profile at the end of a conns hold")
	fs.StringVar(&o.pprof2, "pprof2", "", "with -url2: the second node's pprof base URL; its profile is saved as <pprof-out>-node2.cpu.pprof")
	fs.StringVar(&o.pprofOut, "pprof-out", "profile", "file name prefix of the saved profiles")
	fs.StringVar(&o.emitVia, "emit-via", "socket", "fanout: who sends the events: socket (a client, relayed), api (POST /emit to -api-url), or redis-emitter (PUBLISH to -redis, as @socket.io/redis-emitter)")
	fs.StringVar(&o.apiURL, "api-url", "", "with -emit-via api: where socketio_api is mounted, such as http://127.0.0.1:8080/api")
	fs.StringVar(&o.apiKeyEnv, "api-key-env", "SOCKETIO_API_KEY", "with -emit-via api: the environment variable holding the API key")
	fs.StringVar(&o.redisAddr, "redis", "", "with -emit-via redis-emitter: the Redis the server nodes use, host:port")
	fs.StringVar(&o.room, "room", "", "fanout with -emit-via api or redis-emitter: the room the receivers join and the events go to")
	fs.StringVar(&o.hookBackend, "hook-backend", "", "base URL of `loadgen hookbackend` (http://127.0.0.1:PORT): what it saw in the measured window goes into the result's hook field")
	fs.DurationVar(&o.stormDeadline, "storm-deadline", time.Minute, "storm: how long the clients may take to all connect")
	fs.StringVar(&o.reload.admin, "admin", "", "reload: Caddy's admin endpoint (http://127.0.0.1:2019), where the scenario loads each config")
	fs.IntVar(&o.reload.reloads, "reloads", 20, "reload: how many config reloads")
	fs.DurationVar(&o.reload.every, "reload-every", 2*time.Second, "reload: time between two reloads")
	fs.DurationVar(&o.reload.tick, "tick", 250*time.Millisecond, "reload: time between two broadcasts")
	fs.BoolVar(&o.reload.handover, "handover", true, "reload: the configs use the socketio_handover listener wrapper (false shows what is lost without it)")
	fs.StringVar(&o.sources, "src", "auto", "client source addresses: auto (127.0.0.2-5 for a loopback server), none, or a list")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q; every setting is a flag (-h lists them)", fs.Args())
	}
	if o.proto != 3 && o.proto != 4 {
		return o, fmt.Errorf("-eio %d: the load generator speaks Engine.IO 3 and 4", o.proto)
	}
	if o.transport != "websocket" && o.transport != "polling" {
		return o, fmt.Errorf("-transport %q: use websocket or polling", o.transport)
	}
	if o.ops < 0 {
		return o, errors.New("-ops must not be negative")
	}
	if o.n < 1 || o.c < 1 || o.window < 1 {
		return o, errors.New("-n, -c and -window must be at least 1")
	}
	if o.endpoint2 != "" && o.scenario != "fanout" {
		return o, fmt.Errorf("-url2 is for -scenario fanout (receivers on two nodes); %s measures one server", o.scenario)
	}
	if (o.pid2 != 0 || o.pprof2 != "") && o.endpoint2 == "" {
		return o, errors.New("-pid2 and -pprof2 describe the node of -url2; give -url2 too")
	}
	switch {
	case o.emitVia == "socket":
	case o.emitVia == "api" && o.apiURL != "", o.emitVia == "redis-emitter" && o.redisAddr != "":
		if o.scenario != "fanout" || o.endpoint2 != "" {
			return o, fmt.Errorf("-emit-via %s is for -scenario fanout on one node", o.emitVia)
		}
	default:
		return o, fmt.Errorf("-emit-via %q: use socket, api with -api-url, or redis-emitter with -redis", o.emitVia)
	}
	if o.pid2 != 0 && o.pid == 0 {
		return o, errors.New("-pid2 without -pid: give both nodes' process ids, or neither")
	}
	return o, nil
}

func run(ctx context.Context, args []string) (result, error) {
	o, err := parseFlags(args)
	if err != nil {
		return result{}, err
	}
	endpoint, err := parseEndpoint("-url", o.endpoint)
	if err != nil {
		return result{}, err
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return result{}, fmt.Errorf("raising the open-files limit: %v", err)
	}
	if need := uint64(o.n + o.c + 64); o.scenario == "conns" || o.scenario == "fanout" || o.scenario == "stalled" || o.scenario == "slow" || o.scenario == "reload" {
		if need > limit {
			return result{}, fmt.Errorf("-n %d needs about %d open files, the limit is %d; lower -n or raise the hard limit (ulimit -Hn)", o.n, need, limit)
		}
	}
	ips, err := parseSources(o.sources, endpoint.Hostname())
	if err != nil {
		return result{}, err
	}
	if len(ips) > 0 && !loopbackAliasesWork(ips[0]) {
		ips = nil // a system without the whole 127/8 on lo: use the kernel's choice
	}
	dialer := &sourceDialer{sources: ips}
	t := newTarget(endpoint, o.proto, o.namespace, dialer, max(o.c, 64)*2)
	s := &scenario{
		target:    t,
		pid2:      o.pid2,
		transport: o.transport,
		n:         o.n,
		c:         o.c,
		duration:  o.duration,
		ops:       int64(o.ops),
		pause:     o.pause,
		hold:      o.hold,
		rate:      o.rate,
		offered:   o.offered,
		pid:       o.pid,
		pad:       o.pad,
		window:    o.window,
		idlePoll:  o.idlePoll,
		stalledWS: o.stalledWS,
		epoch:     time.Now(),
		progress:  os.Stderr,
		dialSlots: 128,
		room:      o.room,
	}
	if o.hookBackend != "" {
		s.backend = &backendStats{base: strings.TrimSuffix(o.hookBackend, "/")}
	}
	switch o.emitVia {
	case "api":
		s.emitter = newAPIEmitter(strings.TrimSuffix(o.apiURL, "/"), os.Getenv(o.apiKeyEnv), o.room, o.pad)
	case "redis-emitter":
		s.emitter = newRedisEmitter(o.redisAddr, o.namespace, o.room, o.pad)
	}
	if o.pprof != "" {
		s.profile = &profiler{base: strings.TrimSuffix(o.pprof, "/"), out: o.pprofOut}
	}
	if o.endpoint2 != "" {
		endpoint2, err := parseEndpoint("-url2", o.endpoint2)
		if err != nil {
			return result{}, err
		}
		s.target2 = newTarget(endpoint2, o.proto, o.namespace, dialer, max(o.c, 64)*2)
	}
	if o.pprof2 != "" {
		s.profile2 = &profiler{base: strings.TrimSuffix(o.pprof2, "/"), out: o.pprofOut + "-node2"}
	}
	var r result
	switch o.scenario {
	case "conns":
		r, err = runConns(ctx, s)
	case "echo":
		r, err = runEcho(ctx, s, "echo")
	case "polling":
		s.transport = "polling"
		r, err = runEcho(ctx, s, "polling")
	case "fanout":
		r, err = runFanout(ctx, s)
	case "openloop":
		r, err = runOpenLoop(ctx, s)
	case "handshake":
		r, err = runHandshake(ctx, s)
	case "stalled":
		r, err = runStalled(ctx, s, o.events)
	case "cycles":
		r, err = runCycles(ctx, s, s.profile)
	case "slow":
		r, err = runSlow(ctx, s)
	case "storm":
		r, err = runStorm(ctx, s, o.stormDeadline)
	case "reload":
		r, err = runReload(ctx, s, &o.reload)
	default:
		return r, fmt.Errorf("-scenario %q: use conns, echo, openloop, fanout, handshake, polling, stalled, cycles, slow, storm or reload", o.scenario)
	}
	r.Server, r.Protocol = o.label, o.proto
	if o.variant != "" {
		r.Variant = o.variant
	}
	return r, err
}

func parseEndpoint(flag, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%s %q: want the server's endpoint, such as http://127.0.0.1:3000/socket.io/", flag, raw)
	}
	return u, nil
}

// loopbackAliasesWork checks that a source address can be bound (Linux
// routes all of 127/8 to lo; other systems may not).
func loopbackAliasesWork(ip net.IP) bool {
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip})
	if err != nil {
		return false
	}
	l.Close()
	return true
}
