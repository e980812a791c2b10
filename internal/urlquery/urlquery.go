// Package urlquery finds one parameter of a URL's raw query without
// building a url.Values: with url.ParseQuery's rules (pairs split on '&',
// a pair holding ';' or an escape that does not decode skipped, the first
// of repeated keys wins), so that what it answers is what
// url.ParseQuery(raw) followed by Get or a lookup would. The Engine.IO
// server reads four or five parameters of every request and the Socket.IO
// server a template's, where ParseQuery allocated a map, a slice per key
// and strings, some 380 bytes a polling handshake.
//
// # Concurrency
//
// The functions keep no state and may be called from any goroutine.
package urlquery

import (
	"net/url"
	"strings"
)

// manyPairs is where Lookup stops scanning and asks url.ParseQuery, which
// refuses a query of more than GODEBUG's urlmaxqueryparams pairs (10,000
// unless set) and then answers nothing: a scan would answer where it does
// not. A query of a handful of pairs never gets there.
const manyPairs = 64

// Lookup returns the value of key in the raw query and whether the query
// holds the key, as url.ParseQuery(raw) would have them.
func Lookup(raw, key string) (value string, ok bool) {
	if strings.Count(raw, "&") >= manyPairs {
		q, _ := url.ParseQuery(raw)
		if vs, ok := q[key]; ok {
			return vs[0], true
		}
		return "", false
	}
	for rest := raw; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue // url.ParseQuery skips both
		}
		k, v, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(k); err != nil || k != key {
			continue
		}
		if v, err := url.QueryUnescape(v); err == nil {
			return v, true
		}
	}
	return "", false
}

// Get returns the value of key in the raw query, or "".
func Get(raw, key string) string {
	v, _ := Lookup(raw, key)
	return v
}
