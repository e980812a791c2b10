// Command conformance serves the endpoints the public protocol test suites
// expect, with plain net/http: a bare Engine.IO echo server at /engine.io/
// (engine.go) and whatever other files of this package add to mounts.
//
//	go run ./integration_test/conformance -listen 127.0.0.1:3000
package main

import (
	"flag"
	"log"
	"net/http"
)

// mounts are the endpoints other files of this package add in init().
var mounts []func(mux *http.ServeMux)

func main() {
	listen := flag.String("listen", "127.0.0.1:3000", "address to listen on")
	flag.Parse()

	mux := http.NewServeMux()
	mountEngine(mux)
	for _, mount := range mounts {
		mount(mux)
	}
	log.Printf("conformance server listening on http://%s", *listen)
	log.Fatal(http.ListenAndServe(*listen, mux))
}
