package jsonstr

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var samples = []string{
	"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\r\b\f",
	"\x00\x01\x1f\x7f", "é ü 漢字 🎉", "line\u2028para\u2029", "bad \xff utf-8 \xc3", "\xed\xa0\x80 surrogate",
}

// marshalled is what encoding/json writes for s, with or without its HTML
// escapes (it always escapes U+2028 and U+2029).
func marshalled(t testing.TB, s string, html bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// stringified is what JSON.stringify writes for s, once invalid UTF-8 is
// U+FFFD: encoding/json without the HTML escapes, and with U+2028 and
// U+2029 as they are.
func stringified(t testing.TB, s string) string {
	out := marshalled(t, s, false)
	return strings.NewReplacer(`\u2028`, "\u2028", `\u2029`, "\u2029").Replace(out)
}

func TestAppendHTMLSafeMatchesMarshal(t *testing.T) {
	for _, s := range samples {
		if got, want := string(AppendHTMLSafe(nil, s)), marshalled(t, s, true); got != want {
			t.Errorf("AppendHTMLSafe(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendMatchesStringify(t *testing.T) {
	for _, s := range samples {
		if got, want := string(Append([]byte("x"), s)), "x"+stringified(t, s); got != want {
			t.Errorf("Append(%q) = %s, want %s", s, got, want)
		}
	}
	if got := string(Append(nil, "<a>&\u2028")); got != "\"<a>&\u2028\"" {
		t.Errorf("Append escaped what JSON.stringify leaves: %s", got)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(AppendHTMLSafe(nil, s)), marshalled(t, s, true); got != want {
			t.Fatalf("AppendHTMLSafe(%q) = %s, want %s", s, got, want)
		}
		if got, want := string(Append(nil, s)), stringified(t, s); got != want {
			t.Fatalf("Append(%q) = %s, want %s", s, got, want)
		}
	})
}
