package engine

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Polling responses at or over the threshold are compressed when the client
// accepts gzip or deflate, as Node's httpCompression option does. "deflate"
// in HTTP means the zlib format (RFC 1950), which is what Node sends.

var (
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}
	zlibWriters = sync.Pool{New: func() any { return zlib.NewWriter(io.Discard) }}
)

type resettableWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

func compress(encoding string, body []byte) ([]byte, error) {
	pool := &gzipWriters
	if encoding == "deflate" {
		pool = &zlibWriters
	}
	zw := pool.Get().(resettableWriter)
	defer pool.Put(zw)
	var out bytes.Buffer
	out.Grow(len(body) / 2)
	zw.Reset(&out)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// chooseEncoding picks gzip or deflate from an Accept-Encoding header by
// quality, gzip winning ties (the order Node offers them in); "" when the
// client accepts neither.
func chooseEncoding(header string) string {
	if header == "" {
		return ""
	}
	qGzip, qDeflate, qAny := -1.0, -1.0, -1.0
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "gzip":
			qGzip = q
		case "deflate":
			qDeflate = q
		case "*":
			qAny = q
		}
	}
	if qGzip < 0 {
		qGzip = qAny
	}
	if qDeflate < 0 {
		qDeflate = qAny
	}
	switch {
	case qGzip > 0 && qGzip >= qDeflate:
		return "gzip"
	case qDeflate > 0:
		return "deflate"
	}
	return ""
}
