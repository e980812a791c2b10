// Package jsonstr writes Go strings as JSON string literals, in the two
// dialects this module's peers expect: JavaScript's JSON.stringify (the
// Socket.IO wire, where Node is the reference) and Go's encoding/json (the
// hook bodies, whose bytes must match json.Marshal's so that a backend's
// signature check sees what Go would have sent).
//
// Both differ only in which characters they escape; invalid UTF-8 becomes
// U+FFFD in both, as neither can carry it.
//
// # Concurrency
//
// The functions keep no state and may be called from any goroutine.
package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// plain[c] tells whether the ASCII byte c goes into a JSON.stringify
// string unescaped; plainHTML the same for json.Marshal, which also
// escapes <, > and & (so the output is safe inside HTML).
var plain, plainHTML = asciiTables()

func asciiTables() (stringify, marshal [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		stringify[c] = c != '"' && c != '\\'
		marshal[c] = stringify[c] && c != '<' && c != '>' && c != '&'
	}
	return
}

// Append appends s quoted as JSON.stringify quotes it: only the quote, the
// backslash and control characters are escaped.
func Append(b []byte, s string) []byte { return appendQuoted(b, s, &plain, false) }

// AppendHTMLSafe appends s quoted as encoding/json's Marshal quotes it:
// also <, >, & and the line and paragraph separators U+2028 and U+2029.
func AppendHTMLSafe(b []byte, s string) []byte { return appendQuoted(b, s, &plainHTML, true) }

func appendQuoted(b []byte, s string, unescaped *[utf8.RuneSelf]bool, lineSeparators bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if unescaped[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if lineSeparators && (r == '\u2028' || r == '\u2029') {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
