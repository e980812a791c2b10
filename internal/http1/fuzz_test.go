package http1

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

// FuzzReadResponse feeds the answer parser arbitrary bytes: it must not
// panic, must hold no more body than its bound, and whatever it accepts
// must be a status it could have read.
func FuzzReadResponse(f *testing.F) {
	for _, seed := range []string{
		okAnswer,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;x=y\r\n{\r\n1\r\n}\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n{}",
		"HTTP/1.1 200 OK\nContent-Length: 99999999999\n\nx",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const maxBody = 64
		res, keep, _, err := readResponse(bufio.NewReaderSize(bytes.NewReader(b), 16), http.MethodPost, 256, maxBody)
		if err != nil {
			if res != nil || keep {
				t.Fatalf("error %v with an answer or a kept connection", err)
			}
			return
		}
		if res.StatusCode < 200 || res.StatusCode > 999 {
			t.Fatalf("status %d accepted", res.StatusCode)
		}
		if len(res.Body) > maxBody {
			t.Fatalf("%d bytes of body held, bound %d", len(res.Body), maxBody)
		}
		if res.Truncated && keep {
			t.Fatal("a cut answer's connection kept")
		}
	})
}
