package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"

	"github.com/caddy-socketio/caddy-socketio/internal/jsonstr"
)

// This file writes Go values as JSON the way JSON.stringify does on the Node
// server (no HTML escaping, NaN and infinities as null), with one addition
// that JSON.stringify lacks: a []byte anywhere in a []any or map[string]any
// becomes a binary attachment and a {"_placeholder":true,"num":N} object, as
// socket.io-parser's deconstructPacket does for Buffers.

// appendValue appends v as JSON to buf, moving binary values to *atts.
func appendValue(buf []byte, v any, atts *[][]byte) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case []byte:
		buf = appendPlaceholder(buf, len(*atts))
		*atts = append(*atts, x)
		return buf, nil
	case json.RawMessage:
		if !json.Valid(x) {
			return buf, fmt.Errorf("socketio: json.RawMessage argument is not valid JSON: %.40q", x)
		}
		return append(buf, x...), nil
	case string:
		return jsonstr.Append(buf, x), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), nil
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case float64:
		return appendFloat(buf, x), nil
	case float32:
		return appendFloat(buf, float64(x)), nil
	case json.Number:
		return append(buf, x...), nil
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendValue(buf, e, atts); err != nil {
				return buf, err
			}
		}
		return append(buf, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = jsonstr.Append(buf, k)
			buf = append(buf, ':')
			var err error
			if buf, err = appendValue(buf, x[k], atts); err != nil {
				return buf, err
			}
		}
		return append(buf, '}'), nil
	case Args:
		return buf, fmt.Errorf("socketio: an Args value can only be a top-level argument of Emit, not nested in another value")
	}
	return appendMarshaled(buf, v)
}

func appendPlaceholder(buf []byte, num int) []byte {
	buf = append(buf, `{"_placeholder":true,"num":`...)
	buf = strconv.AppendInt(buf, int64(num), 10)
	return append(buf, '}')
}

// jsonEncoders are reused encoders writing without HTML escaping, like
// JSON.stringify.
var jsonEncoders = sync.Pool{New: func() any {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func appendMarshaled(buf []byte, v any) ([]byte, error) {
	e := jsonEncoders.Get().(*jsonEncoder)
	defer jsonEncoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return buf, fmt.Errorf("socketio: cannot encode argument of type %T as JSON: %w", v, err)
	}
	return append(buf, bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})...), nil
}

// appendFloat formats like JavaScript's Number.prototype.toString, which
// JSON.stringify uses: integers without a fraction, exponents below 1e-6
// and from 1e21.
func appendFloat(buf []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(buf, "null"...)
	}
	if f == 0 {
		return append(buf, '0') // JSON.stringify(-0) is "0"
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7, 1e+21 stays 1e+21 as in JavaScript
		n := len(buf) - start
		if n >= 4 && buf[len(buf)-4] == 'e' && buf[len(buf)-3] == '-' && buf[len(buf)-2] == '0' {
			buf[len(buf)-2] = buf[len(buf)-1]
			buf = buf[:len(buf)-1]
		}
	}
	return buf
}
