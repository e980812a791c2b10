package redisadapter_test

import (
	"log"
	"net/http"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// A Socket.IO server that is one node of a cluster sharing a Redis, with
// Node.js socket.io servers or other Go ones.
func Example() {
	client, err := (&redisadapter.ClientConfig{Addresses: []string{"127.0.0.1:6379"}}).NewClient()
	if err != nil {
		log.Fatal(err)
	}
	cluster, err := redisadapter.New(redisadapter.Config{Client: client})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()

	io := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: cluster.Adapter})
	io.Of("/").OnConnection(func(s *socketio.Socket) {
		s.Join("news")
		// Reaches the clients in "news" on every server of the cluster.
		_ = io.To("news").Emit("joined", s.ID())
	})
	// Answer Node's io.serverSideEmit("ping", cb) from the other servers.
	io.Of("/").Adapter().(*redisadapter.Adapter).OnServerSideEmit(func(e *redisadapter.ServerSideEvent) {
		if e.Name == "ping" && e.WantsAck() {
			_ = e.Ack("pong")
		}
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:3000", io))
}
