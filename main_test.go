package caddysocketio

import (
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// Tests leave polling sessions behind without polling again; their
	// servers need not wait the production two seconds to cut them.
	shutdownTimeout = 200 * time.Millisecond
	os.Exit(m.Run())
}
