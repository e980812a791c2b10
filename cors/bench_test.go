package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps only its header map, reset
// between iterations, so that the benchmark measures the policy.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func BenchmarkApply(b *testing.B) {
	p, err := New(Options{Origins: []string{"https://a.example", "https://*.example.com"}, Credentials: true, ExposedHeaders: []string{"X-Trace-Id"}})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, method string }{{"polling GET", "GET"}, {"preflight", "OPTIONS"}} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest(c.method, "/socket.io/?EIO=4&transport=polling", nil)
			r.Header.Set("Origin", "https://chat.example.com")
			r.Header.Set("Access-Control-Request-Headers", "content-type")
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				p.Apply(w, r)
			}
		})
	}
}
