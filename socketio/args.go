package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Args are the arguments of an event or an acknowledgement as they travel:
// each one raw JSON, in which every binary value is a
// {"_placeholder":true,"num":N} object standing for Attachments[N].
//
// Keeping the raw form lets a relay or an echo send arguments on without
// decoding and re-encoding them: pass an Args to Emit as is. Decode, Value
// and Values decode lazily, putting the attachments back.
type Args struct {
	JSON        []json.RawMessage
	Attachments [][]byte
}

// NewArgs encodes values as Args. A []byte, at the top level or anywhere
// inside a []any or map[string]any, becomes a binary attachment (a Node
// client receives a Buffer or an ArrayBuffer); a json.RawMessage is taken
// as is; anything else goes through encoding/json (where a []byte inside a
// struct becomes a base64 string, as encoding/json always does).
func NewArgs(values ...any) (Args, error) {
	var a Args
	err := a.append(values)
	return a, err
}

// append encodes values after the arguments already in a. An Args among the
// values is spliced in, its placeholders renumbered when a already holds
// attachments.
func (a *Args) append(values []any) error {
	if len(values) == 0 {
		return nil
	}
	if a.JSON == nil {
		a.JSON = make([]json.RawMessage, 0, len(values))
	}
	for i, v := range values {
		if more, ok := v.(Args); ok {
			if err := a.appendArgs(more); err != nil {
				return err
			}
			continue
		}
		raw, err := appendValue(nil, v, &a.Attachments)
		if err != nil {
			return fmt.Errorf("argument %d: %w", i, err)
		}
		a.JSON = append(a.JSON, raw)
	}
	return nil
}

func (a *Args) appendArgs(more Args) error {
	if len(a.Attachments) == 0 || len(more.Attachments) == 0 {
		a.JSON = append(a.JSON, more.JSON...)
		a.Attachments = append(a.Attachments, more.Attachments...)
		return nil
	}
	// The placeholders of more count from 0: decode and encode again so
	// that they count from len(a.Attachments). Rare: only when binary
	// arguments come both before and inside a spliced Args.
	for i := range more.JSON {
		v, err := more.value(i, true)
		if err != nil {
			return err
		}
		raw, err := appendValue(nil, v, &a.Attachments)
		if err != nil {
			return err
		}
		a.JSON = append(a.JSON, raw)
	}
	return nil
}

// Len is the number of arguments.
func (a Args) Len() int { return len(a.JSON) }

// Decode decodes argument i into v with encoding/json. Binary attachments
// decode into []byte fields (and into []byte when v is a *any).
func (a Args) Decode(i int, v any) error {
	if i < 0 || i >= len(a.JSON) {
		return fmt.Errorf("socketio: argument %d requested, the packet has %d", i, len(a.JSON))
	}
	raw := a.JSON[i]
	if len(a.Attachments) == 0 || !bytes.Contains(raw, []byte(`"_placeholder"`)) {
		return json.Unmarshal(raw, v)
	}
	val, err := a.value(i, false)
	if err != nil {
		return err
	}
	if p, ok := v.(*any); ok {
		*p = val
		return nil
	}
	// encoding/json writes []byte as base64 and reads it back into []byte
	// fields, which puts each attachment where the target expects it.
	b, err := json.Marshal(val)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Value decodes argument i into a generic value: JSON numbers as float64,
// objects as map[string]any, arrays as []any, attachments as []byte.
func (a Args) Value(i int) (any, error) {
	if i < 0 || i >= len(a.JSON) {
		return nil, fmt.Errorf("socketio: argument %d requested, the packet has %d", i, len(a.JSON))
	}
	return a.value(i, false)
}

// Values decodes every argument as Value does.
func (a Args) Values() ([]any, error) {
	out := make([]any, len(a.JSON))
	for i := range a.JSON {
		v, err := a.value(i, false)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Bytes returns argument i when it is a binary attachment itself.
func (a Args) Bytes(i int) ([]byte, bool) {
	if i < 0 || i >= len(a.JSON) || len(a.Attachments) == 0 {
		return nil, false
	}
	num, ok := placeholderNum(a.JSON[i])
	if !ok || num >= len(a.Attachments) {
		return nil, false
	}
	return a.Attachments[num], true
}

// String returns argument i when it is a JSON string.
func (a Args) String(i int) (string, bool) {
	if i < 0 || i >= len(a.JSON) {
		return "", false
	}
	var s string
	if len(a.JSON[i]) == 0 || a.JSON[i][0] != '"' || json.Unmarshal(a.JSON[i], &s) != nil {
		return "", false
	}
	return s, true
}

// value decodes argument i; numbers stay json.Number when exact is set, so
// that re-encoding keeps them digit for digit.
func (a Args) value(i int, exact bool) (any, error) {
	d := json.NewDecoder(bytes.NewReader(a.JSON[i]))
	if exact {
		d.UseNumber()
	}
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("socketio: argument %d is not valid JSON: %w", i, err)
	}
	if len(a.Attachments) == 0 {
		return v, nil
	}
	return reconstruct(v, a.Attachments)
}

// placeholderNum recognizes the exact placeholder socket.io-parser writes.
func placeholderNum(raw []byte) (int, bool) {
	const prefix = `{"_placeholder":true,"num":`
	if !bytes.HasPrefix(raw, []byte(prefix)) || raw[len(raw)-1] != '}' {
		return 0, false
	}
	digits := raw[len(prefix) : len(raw)-1]
	if len(digits) == 0 || len(digits) > 6 {
		return 0, false
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// reconstruct replaces placeholder objects by their attachments, as
// socket.io-parser's reconstructPacket does, and fails on a placeholder
// whose num is not the index of an attachment.
func reconstruct(v any, atts [][]byte) (any, error) {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			r, err := reconstruct(e, atts)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	case map[string]any:
		if isTrue, _ := x["_placeholder"].(bool); isTrue {
			n, ok := placeholderIndex(x["num"], len(atts))
			if !ok {
				return nil, fmt.Errorf("illegal attachments: placeholder num %v, the packet has %d attachments", x["num"], len(atts))
			}
			return atts[n], nil
		}
		for k, e := range x {
			r, err := reconstruct(e, atts)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	}
	return v, nil
}

func placeholderIndex(num any, count int) (int, bool) {
	var f float64
	switch n := num.(type) {
	case float64:
		f = n
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if f < 0 || f >= float64(count) || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}

// checkPlaceholders verifies the placeholders of decoded binary arguments
// without keeping the decoded values.
func checkPlaceholders(raw []byte, count int) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return err
	}
	_, err := reconstruct(v, make([][]byte, count))
	return err
}
