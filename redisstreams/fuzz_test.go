package redisstreams

import (
	"encoding/base64"
	"testing"
)

// FuzzDecodeEntry feeds stream entries anyone who can XADD could write:
// decoding and replaying one must never panic, and what decodes encodes
// again.
func FuzzDecodeEntry(f *testing.F) {
	f.Add("abc", "/", "3", `{"packet":{"type":2,"data":["ev",1],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}`)
	f.Add("abc", "/", "3", base64.StdEncoding.EncodeToString([]byte{0x81, 0xa6, 'p', 'a', 'c', 'k', 'e', 't', 0xc4, 0x01, 0x01}))
	f.Add("abc", "/", "4", `{"opts":{"rooms":[],"except":[],"flags":{}},"rooms":["x"]}`)
	f.Add("", "", "x", "{")
	f.Fuzz(func(t *testing.T, uid, nsp, typ, data string) {
		m, err := decodeEntry(map[string]any{"uid": uid, "nsp": nsp, "type": typ, "data": data})
		if err != nil {
			return
		}
		if _, err := entryValues(m); err != nil && len(m.Attachments) == 0 {
			t.Fatalf("decoded entry does not encode again: %v", err)
		}
		// What a replay does with it, for a socket in room r.
		if p := storedBroadcast(m, "/", []string{"r"}); p != nil && m.Nsp != "/" {
			t.Fatalf("an entry of namespace %q replayed in /", m.Nsp)
		}
	})
}

// FuzzDecodeSession feeds session values: never a panic, and a session
// that decodes has a sid and a pid.
func FuzzDecodeSession(f *testing.F) {
	good, _ := encodeSession(&session{Sid: "s", Pid: "p", Rooms: []string{"s", "r"}, Data: []byte(`{"a":1}`)})
	f.Add(good)
	f.Add("gqNzaWShc6NwaWShcA==")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := decodeSession(raw)
		if err != nil {
			return
		}
		if s.Sid == "" || s.Pid == "" {
			t.Fatalf("decoded a session without sid or pid: %+v", s)
		}
		if _, err := encodeSession(s); err != nil {
			t.Fatalf("decoded session does not encode again: %v", err)
		}
	})
}

// FuzzParseID: an offset a client sends is either a canonical entry id or
// refused.
func FuzzParseID(f *testing.F) {
	f.Add("1700000000000-0")
	f.Add("01-0")
	f.Add("18446744073709551616-0")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := parseID(s)
		if ok && id.String() != s {
			t.Fatalf("%q parsed as %s", s, id)
		}
	})
}
