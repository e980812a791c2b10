package integration_test

import (
	"fmt"
	"testing"
	"time"
)

func TestHarnessPlainCaddy(t *testing.T) {
	port := freePort(t)
	site := func(body string) string {
		return fmt.Sprintf("http://:%d {\n\tbind 127.0.0.1\n\trespond %q\n}\n", port, body)
	}
	c := startCaddy(t, site("one"))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if _, body := httpGet(t, url, nil); body != "one" {
		t.Fatalf("body %q", body)
	}
	c.reload(site("two"))
	if _, body := httpGet(t, url, nil); body != "two" {
		t.Fatalf("body %q", body)
	}
	t.Log(c.stop(10 * time.Second))
}
