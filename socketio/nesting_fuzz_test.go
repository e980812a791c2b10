package socketio

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzNesting checks the one-pass depth scan that bounds payloads against
// encoding/json's tokenizer, on any valid JSON.
func FuzzNesting(f *testing.F) {
	for _, s := range []string{`[]`, `[[1,{"a":[2]}],"[[["]`, `{"k":"\"}{\\"}`, `"x"`, `[{"a":{"b":[[]]}}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		d := json.NewDecoder(bytes.NewReader(data))
		depth, want := 0, 0
		for {
			tok, err := d.Token()
			if err != nil {
				break
			}
			switch tok {
			case json.Delim('['), json.Delim('{'):
				depth++
				want = max(want, depth)
			case json.Delim(']'), json.Delim('}'):
				depth--
			}
		}
		if got := nesting(data); got != want {
			t.Fatalf("nesting(%q) = %d, encoding/json says %d", data, got, want)
		}
	})
}
