package urlquery

import (
	"net/url"
	"strings"
	"testing"
)

// Lookup answers what url.ParseQuery answers, for queries a client may
// send: repeated keys (the first wins), escapes, '+', malformed pairs
// (skipped, as url.ParseQuery skips them), keys without a value, and a
// query of more pairs than the scan handles itself.
func TestLookupIsParseQuery(t *testing.T) {
	many := strings.Repeat("x=1&", 70) + "room=last"
	for _, raw := range []string{
		"", "room=a", "room=a&room=b", "EIO=4&transport=websocket&room=blue",
		"room", "room=", "=a&room=b", "&&room=c&", "ro%6Fm=d", "room=a%20b+c",
		"room=%zz&room=e", "ro%zzom=f&room=g", "room=h;x=1&room=i", "room;=j",
		"other=1", "j=0&j=1", "j", "j=%zz", many,
	} {
		q, _ := url.ParseQuery(raw)
		for _, key := range []string{"room", "x", "other", "j", ""} {
			vs, wantOK := q[key]
			want := ""
			if wantOK {
				want = vs[0]
			}
			if got, ok := Lookup(raw, key); got != want || ok != wantOK {
				t.Errorf("query %q: Lookup(%q) = %q, %v; url.ParseQuery has %q, %v", raw, key, got, ok, want, wantOK)
			}
			if got := Get(raw, key); got != want {
				t.Errorf("query %q: Get(%q) = %q, want %q", raw, key, got, want)
			}
		}
	}
}

// A query of more pairs than url.ParseQuery accepts has no value at all,
// as with url.ParseQuery.
func TestLookupOfATooLongQueryFindsNothing(t *testing.T) {
	t.Setenv("GODEBUG", "urlmaxqueryparams=100")
	raw := "room=first&" + strings.Repeat("x=1&", 200)
	q, err := url.ParseQuery(raw)
	if err == nil {
		t.Fatal("url.ParseQuery accepted 201 pairs under urlmaxqueryparams=100")
	}
	if got, ok := Lookup(raw, "room"); ok != (q["room"] != nil) {
		t.Errorf("Lookup(room) = %q, %v; url.ParseQuery: %v (%v)", got, ok, q["room"], err)
	}
}

func BenchmarkLookup(b *testing.B) {
	raw := "EIO=4&transport=polling&t=PNk2x9A&sid=Yt0bNwXQ2nBaJZ1RAAAB"
	b.ReportAllocs()
	for b.Loop() {
		Get(raw, "transport")
		Get(raw, "sid")
		Get(raw, "EIO")
		Lookup(raw, "j")
	}
}
