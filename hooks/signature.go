package hooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SignatureHeader is the header carrying a hook request's signature.
const SignatureHeader = "Socketio-Signature"

// sign returns the Socketio-Signature value of body at t for each key, in
// order: t=<unix seconds>,v1=<hex>,v1=<hex>...
func sign(keys [][]byte, t time.Time, body []byte) string {
	signers := make([]*signer, len(keys))
	for i, k := range keys {
		signers[i] = newSigner(k)
	}
	return signWith(signers, t, body)
}

// signer is one key's HMAC-SHA256, reused from call to call (hmac.New
// allocates its two hashes and pads): a pool, since calls run at once.
type signer struct{ pool sync.Pool }

func newSigner(key []byte) *signer {
	s := &signer{}
	s.pool.New = func() any { return hmac.New(sha256.New, key) }
	return s
}

// signWith is sign with the signers of the keys.
func signWith(signers []*signer, t time.Time, body []byte) string {
	var tsBuf [20]byte
	ts := strconv.AppendInt(tsBuf[:0], t.Unix(), 10)
	// Built in a strings.Builder: the header value is its one allocation.
	var b strings.Builder
	b.Grow(len("t=") + len(ts) + len(signers)*(len(",v1=")+2*sha256.Size))
	b.WriteString("t=")
	b.Write(ts)
	var sum [sha256.Size]byte
	var hexSum [2 * sha256.Size]byte
	for _, s := range signers {
		m := s.pool.Get().(hash.Hash)
		m.Reset()
		m.Write(ts)
		m.Write([]byte{'.'})
		m.Write(body)
		hex.Encode(hexSum[:], m.Sum(sum[:0]))
		s.pool.Put(m)
		b.WriteString(",v1=")
		b.Write(hexSum[:])
	}
	return b.String()
}

// mac is HMAC-SHA256(key, "<ts>.<body>").
func mac(key []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a Socketio-Signature header against the exact body bytes,
// for a Go backend receiving hook requests: it succeeds when one v1 value
// is the HMAC-SHA256 of "<t>.<body>" under one of secrets (several during a
// key rotation), and t is within tolerance of the local clock, which
// refuses a replayed request. A tolerance of zero or less skips the age
// check (not recommended; 5 minutes is usual).
func Verify(header string, body []byte, secrets []string, tolerance time.Duration) error {
	if header == "" {
		return errors.New("hooks: no Socketio-Signature header")
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("hooks: Socketio-Signature has no valid t=<unix seconds> (%q)", ts)
	}
	if len(sigs) == 0 {
		return errors.New("hooks: Socketio-Signature has no v1=<hex HMAC-SHA256> value")
	}
	matched := false
	for _, s := range secrets {
		want := mac([]byte(s), ts, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				matched = true
			}
		}
	}
	if !matched {
		return errors.New("hooks: no v1 signature matches the body under any secret (wrong secret, or the body was altered)")
	}
	if tolerance > 0 {
		age := time.Since(time.Unix(unix, 0))
		if age > tolerance || age < -tolerance {
			return fmt.Errorf("hooks: signature timestamp %d is %v away from now, past the tolerance of %v (a replay, or a clock off)", unix, age.Round(time.Second), tolerance)
		}
	}
	return nil
}
