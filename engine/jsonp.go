package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// JSONP polling (a "j" query parameter) is the transport of very old
// browsers without CORS: GET answers are a script calling
// ___eio[j]("<payload>"), POST bodies are forms with the payload in "d".
// Binary data always travels as base64 there.

// errJSONPOff is the message of a JSONP handshake refused because the JSONP
// option is off.
const errJSONPOff = "JSONP polling is disabled on this server"

// jsonpIndex keeps only the digits of the j parameter, as Node does, so the
// callback name cannot inject script.
func jsonpIndex(j string) string {
	var b strings.Builder
	for i := 0; i < len(j); i++ {
		if j[i] >= '0' && j[i] <= '9' {
			b.WriteByte(j[i])
		}
	}
	return b.String()
}

func jsonpWrap(index string, payload []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(payload) + len(index) + 16)
	out.WriteString("___eio[")
	out.WriteString(index)
	out.WriteString("](")
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.Encode(string(payload)) // a string always encodes; it escapes U+2028/9 too
	out.Truncate(out.Len() - 1) // Encode's newline
	out.WriteString(");")
	return out.Bytes()
}

// jsonpData extracts the payload from a JSONP POST body. The client escapes
// newlines as \n and "\n" as \\n; this undoes both.
func jsonpData(body []byte) ([]byte, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("engine: JSONP body is not a form: %w", err)
	}
	d, ok := form["d"]
	if !ok {
		return nil, fmt.Errorf("engine: JSONP body has no \"d\" field")
	}
	s := d[0]
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'n':
			out.WriteString(`\n`) // an escaped backslash-n stays literal
			i += 2
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == 'n':
			out.WriteByte('\n')
			i++
		default:
			out.WriteByte(s[i])
		}
	}
	return []byte(out.String()), nil
}
