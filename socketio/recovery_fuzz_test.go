package socketio

import (
	"encoding/json"
	"testing"
)

// FuzzRecoveryAuth checks the decoding of what a reconnecting client sends
// back: any CONNECT payload, pid and offset give back the one session only
// to its pid, with an offset the log gave, and nothing panics.
func FuzzRecoveryAuth(f *testing.F) {
	for _, s := range []string{
		`{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"1001"}`, `{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"zzz"}`,
		`{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"1003"}`, `{"pid":"AAAAAAAAAAAAAAAAAAAA"}`, `{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":null}`, `{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"zzy"}`, `{"pid":"x","offset":""}`, `{"pid":"","offset":"1"}`,
		`{"pid":1,"offset":"1"}`, `{"pid":"\u0041","offset":"\u0031"}`, `{"offset":"1","pid":"a","pid":"b"}`,
		`{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"-1"}`, `{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"18446744073709551615"}`,
		`{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"3w5e11264sgsf"}`, `{"token":"abc"}`, `[]`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, auth []byte) {
		r := newRecovery(RecoveryOptions{}.withDefaults())
		// A log of three packets, offsets "1000" to "1002" (the client that
		// saw "zzz", the one before, missed them all), and one session.
		r.first = 36 * 36 * 36
		for range 3 {
			r.mu.Lock()
			r.appendLocked(logEntry{text: []byte(`2["x"]`)})
			r.mu.Unlock()
		}
		const pid = "AAAAAAAAAAAAAAAAAAAA"
		r.persist(&recoverySession{sid: "s", pid: pid, since: r.first})

		gotPID, offset, hasOffset, ok := recoveryAuth(json.RawMessage(auth))
		if !ok {
			return
		}
		if gotPID == "" || len(gotPID) > maxPIDLen {
			t.Fatalf("%q: pid %q accepted", auth, gotPID)
		}
		if seq, ok := parseOffset(offset); ok {
			if string(formatOffset(nil, seq)) != offset {
				t.Fatalf("offset %q read as %d, which is spelled %q", offset, seq, formatOffset(nil, seq))
			}
		}
		sess := r.take(gotPID, offset, hasOffset)
		if sess == nil {
			if _, _, n := r.stats(); n != 1 {
				t.Fatalf("%q: a failed take left %d sessions, want the owner's", auth, n)
			}
			return
		}
		if gotPID != pid || sess.from+1 < r.first || sess.from >= r.first+3 {
			t.Fatalf("%q: session given for pid %q offset %q (log %d to %d)", auth, gotPID, offset, r.first, r.first+2)
		}
		if r.take(gotPID, offset, hasOffset) != nil {
			t.Fatalf("%q: the session was given twice", auth)
		}
	})
}
