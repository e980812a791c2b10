package metrics

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/hooks"
	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Server is one live Socket.IO server as the collector sees it.
type Server struct {
	name string
	eng  *engine.Server
	io   *socketio.Server

	refusedOrigin atomic.Uint64

	mu    sync.Mutex
	hooks map[string]*hooks.Hooks // guarded by mu: the namespaces with backend hooks
}

// NewServer describes the server io (on eng) called name for Add.
func NewServer(name string, eng *engine.Server, io *socketio.Server) *Server {
	return &Server{name: name, eng: eng, io: io}
}

// RefusedOrigin counts a handshake or upgrade refused because of its
// Origin, which the layer in front of the engine decides.
func (s *Server) RefusedOrigin() { s.refusedOrigin.Add(1) }

// AddHooks makes the collector report the backend hooks h of namespace
// nsp. Namespaces without hooks have no hook series.
func (s *Server) AddHooks(nsp string, h *hooks.Hooks) {
	s.mu.Lock()
	if s.hooks == nil {
		s.hooks = map[string]*hooks.Hooks{}
	}
	s.hooks[nsp] = h
	s.mu.Unlock()
}

// Collector is the package's collector; see the package doc.
var Collector prometheus.Collector = theCollector

var theCollector = &collector{servers: map[*Server]struct{}{}, retired: map[string]*point{}}

// Register registers Collector into reg. Registering it into a registry
// that has it already is not an error.
func Register(reg prometheus.Registerer) error {
	err := reg.Register(Collector)
	if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) && are.ExistingCollector == Collector {
		return nil
	}
	return err
}

// Add makes the collector report s.
func Add(s *Server) {
	theCollector.mu.Lock()
	theCollector.servers[s] = struct{}{}
	theCollector.mu.Unlock()
}

// Remove stops reporting s, keeping its counters for a later server of the
// same name: its counters stay where they got, its gauges drop out.
func Remove(s *Server) {
	c := theCollector
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.servers[s]; !ok {
		return
	}
	delete(c.servers, s)
	s.observe(func(d *desc, v float64, labels ...string) {
		if d.typ == prometheus.CounterValue {
			c.retired[key(d, labels)] = addPoint(c.retired[key(d, labels)], d, v, labels)
		}
	}, func(d *desc, h *histogram, labels ...string) {
		p := c.retired[key(d, labels)]
		if p == nil {
			p = &point{desc: d, labels: labels, hist: h.empty()}
			c.retired[key(d, labels)] = p
		}
		p.hist.add(h)
	})
}

type collector struct {
	mu      sync.Mutex
	servers map[*Server]struct{}
	retired map[string]*point // counters of removed servers, by key
}

// desc is a metric family: its Prometheus description and value type.
type desc struct {
	*prometheus.Desc
	typ prometheus.ValueType
}

func newDesc(name, help string, typ prometheus.ValueType, labels ...string) *desc {
	d := &desc{prometheus.NewDesc("caddy_socketio_"+name, help, append([]string{"server"}, labels...), nil), typ}
	descs = append(descs, d)
	return d
}

var descs []*desc

var (
	socketsDesc  = newDesc("sockets", "Socket.IO sockets connected now.", prometheus.GaugeValue, "namespace")
	sessionsDesc = newDesc("engine_sessions", "Engine.IO sessions open now, by current transport and protocol revision (3: socket.io-client 2.x, 4: 3.x and 4.x).",
		prometheus.GaugeValue, "transport", "protocol")
	handshakesDesc = newDesc("handshakes_total", "Engine.IO handshakes, by outcome: accepted, refused_origin (CORS origin check), refused_allow_request, bad_request.",
		prometheus.CounterValue, "outcome")
	upgradesDesc    = newDesc("upgrades_total", "Polling sessions upgraded to WebSocket.", prometheus.CounterValue)
	closesDesc      = newDesc("engine_closes_total", "Engine.IO sessions ended, by Node's close reason.", prometheus.CounterValue, "reason")
	connectsDesc    = newDesc("connects_total", "Sockets connected to a namespace (past its middlewares).", prometheus.CounterValue, "namespace")
	disconnectsDesc = newDesc("disconnects_total", "Sockets disconnected from a namespace, by Node's disconnect reason.",
		prometheus.CounterValue, "namespace", "reason")
	packetsInDesc  = newDesc("packets_received_total", "Engine.IO packets read from clients.", prometheus.CounterValue, "transport")
	packetsOutDesc = newDesc("packets_sent_total", "Engine.IO packets written to clients (messages, pings, noops, the open packet).", prometheus.CounterValue, "transport")
	bytesInDesc    = newDesc("bytes_received_total", "Bytes read from clients: POST bodies and WebSocket message payloads.", prometheus.CounterValue, "transport")
	bytesOutDesc   = newDesc("bytes_sent_total", "Bytes written to clients: polling response bodies before compression, WebSocket message payloads.", prometheus.CounterValue, "transport")
	broadcastsDesc = newDesc("broadcasts_total", "Packets fanned out to this server's sockets (namespace or room emits, relays, broadcasts from other nodes).",
		prometheus.CounterValue, "namespace")
	deliveriesDesc = newDesc("broadcast_deliveries_total", "Sockets a broadcast packet was queued for.", prometheus.CounterValue, "namespace")
	droppedDesc    = newDesc("deliveries_dropped_total", "Packets not delivered, by reason: volatile (the transport was busy), slow_consumer (a client closed because it stopped reading; counts clients).",
		prometheus.CounterValue, "reason")
	connectTimeoutsDesc = newDesc("connect_timeouts_total", "Connections closed because they joined no namespace within connect_timeout.", prometheus.CounterValue)
	redisPublishedDesc  = newDesc("redis_published_total", "Messages published to Redis for the other nodes.", prometheus.CounterValue)
	redisDroppedDesc    = newDesc("redis_dropped_total", "Messages for the other nodes dropped: publish queue full, or Redis down.", prometheus.CounterValue)
	redisRequestsDesc   = newDesc("redis_requests_total", "Requests to the other nodes (fetchSockets, allRooms, serverSideEmit with an ack).", prometheus.CounterValue)
	redisTimeoutsDesc   = newDesc("redis_request_timeouts_total", "Requests to the other nodes that did not get every answer within requests_timeout.", prometheus.CounterValue)
	redisLatencyDesc    = newDesc("redis_request_duration_seconds", "Time until every other node answered a request (or the timeout).", prometheus.UntypedValue)
	hookCallsDesc       = newDesc("hook_calls_total", "Backend hook calls, by hook (connect, event, notify) and outcome: ok, refused (a connect answered accept: false), timeout, unavailable, bad_answer, overloaded, queue_full. A notify call is one request of a batch.",
		prometheus.CounterValue, "namespace", "hook", "outcome")
	hookLatencyDesc = newDesc("hook_request_duration_seconds", "Time from the start of a backend hook call (the wait for a max_concurrent slot included) to its answer, by hook.",
		prometheus.UntypedValue, "namespace", "hook")
	hookDroppedDesc = newDesc("hook_notifications_dropped_total", "Hook notifications dropped, oldest first, from a full queue.", prometheus.CounterValue, "namespace")
)

// Describe sends every family's description.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d.Desc
	}
}

// Collect reads every server's totals and adds those of removed ones.
// Servers of the same name (during a reload that replaces one) add up.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	points := make(map[string]*point, len(c.retired))
	order := make([]string, 0, len(c.retired))
	for k, p := range c.retired {
		cp := *p
		if p.hist != nil {
			cp.hist = p.hist.empty()
			cp.hist.add(p.hist)
		}
		points[k] = &cp
		order = append(order, k)
	}
	servers := make([]*Server, 0, len(c.servers))
	for s := range c.servers {
		servers = append(servers, s)
	}
	c.mu.Unlock()

	for _, s := range servers {
		s.observe(func(d *desc, v float64, labels ...string) {
			k := key(d, labels)
			if points[k] == nil {
				order = append(order, k)
			}
			points[k] = addPoint(points[k], d, v, labels)
		}, func(d *desc, h *histogram, labels ...string) {
			k := key(d, labels)
			p := points[k]
			if p == nil {
				p = &point{desc: d, labels: labels, hist: h.empty()}
				points[k] = p
				order = append(order, k)
			}
			p.hist.add(h)
		})
	}
	for _, k := range order {
		p := points[k]
		if p.hist != nil {
			buckets := make(map[float64]uint64, len(p.hist.bounds))
			for i, b := range p.hist.bounds {
				buckets[b] = p.hist.counts[i]
			}
			ch <- prometheus.MustNewConstHistogram(p.desc.Desc, p.hist.count, p.hist.sum, buckets, p.labels...)
			continue
		}
		ch <- prometheus.MustNewConstMetric(p.desc.Desc, p.desc.typ, p.value, p.labels...)
	}
}

// point is one series being collected.
type point struct {
	desc   *desc
	labels []string
	value  float64
	hist   *histogram
}

func addPoint(p *point, d *desc, v float64, labels []string) *point {
	if p == nil {
		return &point{desc: d, labels: labels, value: v}
	}
	p.value += v
	return p
}

func key(d *desc, labels []string) string {
	return d.Desc.String() + "\xff" + strings.Join(labels, "\xff")
}

// histogram is a latency histogram of redisadapter's or hooks' Stats.
type histogram struct {
	bounds []float64 // the buckets' upper bounds, shared by every histogram of a family
	counts []uint64  // cumulative, one per bound
	count  uint64
	sum    float64
}

// empty is a zero histogram with h's buckets.
func (h *histogram) empty() *histogram {
	return &histogram{bounds: h.bounds, counts: make([]uint64, len(h.bounds))}
}

func (h *histogram) add(o *histogram) {
	for i := range h.counts {
		h.counts[i] += o.counts[i]
	}
	h.count += o.count
	h.sum += o.sum
}

// observe reads s's totals: each value through add, the latency
// histogram through hist.
func (s *Server) observe(add func(d *desc, v float64, labels ...string), hist func(d *desc, h *histogram, labels ...string)) {
	name := s.name
	e := s.eng.Stats().Snapshot()
	for p, byTransport := range e.Sessions {
		for t, n := range byTransport {
			add(sessionsDesc, float64(n), name, engine.Transports[t], strconv.Itoa(p+3))
		}
	}
	add(handshakesDesc, float64(e.Handshakes[engine.HandshakeAccepted]), name, engine.HandshakeAccepted.String())
	add(handshakesDesc, float64(s.refusedOrigin.Load()), name, "refused_origin")
	add(handshakesDesc, float64(e.Handshakes[engine.HandshakeRefusedAllowRequest]), name, engine.HandshakeRefusedAllowRequest.String())
	add(handshakesDesc, float64(e.Handshakes[engine.HandshakeBadRequest]), name, engine.HandshakeBadRequest.String())
	add(upgradesDesc, float64(e.Upgrades), name)
	for i, n := range e.Closes {
		add(closesDesc, float64(n), name, engine.CloseReasons[i])
	}
	for t, transport := range engine.Transports {
		add(packetsInDesc, float64(e.PacketsIn[t]), name, transport)
		add(packetsOutDesc, float64(e.PacketsOut[t]), name, transport)
		add(bytesInDesc, float64(e.BytesIn[t]), name, transport)
		add(bytesOutDesc, float64(e.BytesOut[t]), name, transport)
	}
	add(droppedDesc, float64(e.VolatileDropped), name, "volatile")
	add(droppedDesc, float64(e.SlowClosed), name, "slow_consumer")

	st := s.io.Stats()
	add(connectTimeoutsDesc, float64(st.ConnectTimeouts), name)
	for _, ns := range st.Namespaces {
		add(socketsDesc, float64(ns.Sockets), name, ns.Name)
		add(connectsDesc, float64(ns.Connects), name, ns.Name)
		add(broadcastsDesc, float64(ns.Broadcasts), name, ns.Name)
		add(deliveriesDesc, float64(ns.Deliveries), name, ns.Name)
		for i, n := range ns.Disconnects {
			add(disconnectsDesc, float64(n), name, ns.Name, socketio.DisconnectReasons[i])
		}
	}

	if rs, ok := redisadapter.StatsOf(s.io); ok {
		r := rs.Snapshot()
		add(redisPublishedDesc, float64(r.Published), name)
		add(redisDroppedDesc, float64(r.Dropped), name)
		add(redisRequestsDesc, float64(r.Requests), name)
		add(redisTimeoutsDesc, float64(r.Timeouts), name)
		hist(redisLatencyDesc, &histogram{bounds: redisadapter.LatencyBuckets[:], counts: r.LatencyCounts[:], count: r.Requests, sum: r.LatencySum}, name)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for nsp, h := range s.hooks {
		st := h.Stats().Snapshot()
		for k, kind := range hooks.Kinds {
			hs := &st.Hooks[k]
			for o, outcome := range hooks.Outcomes {
				if hooks.Kind(k).Possible(hooks.Outcome(o)) {
					add(hookCallsDesc, float64(hs.Outcomes[o]), name, nsp, kind, outcome)
				}
			}
			hist(hookLatencyDesc, &histogram{bounds: hooks.LatencyBuckets[:], counts: hs.LatencyCounts[:], count: hs.Requests, sum: hs.LatencySum}, name, nsp, kind)
		}
		add(hookDroppedDesc, float64(st.DroppedNotifications), name, nsp)
	}
}
