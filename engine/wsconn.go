package engine

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The server side of a WebSocket (RFC 6455), the engine's own: the
// handshake's checks, reading client frames into messages (answering
// pings and close frames on the way) and writing server frames, with
// per-message deflate (RFC 7692) without context takeover when it was
// negotiated.
//
// It is the engine's rather than gorilla/websocket's so that an idle
// connection costs what its state needs and no more: wsConn is the
// network connection's wrapper (batchConn) with a write lock, a read
// limit and a few flags, one allocation; gorilla's Conn added about 600
// bytes per connection (a channel for its write lock, three handler
// closures, a bufio.Reader) that a server with tens of thousands of idle
// clients pays in full. The behaviour is gorilla's where a client can see
// it: the same close codes and reasons for the same faults, one close
// frame per connection, a close frame answered with its code, the same
// deadlines.

// wsConn is one WebSocket connection. One goroutine reads at a time (the
// session's reader; see wsinput.go for how that role moves); any
// goroutine may write, one frame at a time under wmu.
type wsConn struct {
	batchConn

	// wmu serializes frames. A sync.Mutex rather than a channel: an idle
	// connection keeps it, and a channel is a 96-byte allocation.
	wmu sync.Mutex
	// dataDeadline is the write deadline of data frames (UnixNano; 0:
	// none), set by SetWriteDeadline and applied before each data frame,
	// as control frames bring their own. Under wmu, or before the
	// connection is shared.
	dataDeadline int64
	// readLimit is the largest message accepted (Options.MaxPayload; 0:
	// no limit).
	readLimit int64
	// compress: per-message deflate was negotiated; set once.
	compress bool
	// compressNext: compress the data messages written next (see
	// enableWriteCompression); under wmu.
	compressNext bool
	// closeSent: the close frame went (or was attempted); nothing is
	// written after it. Under wmu.
	closeSent bool
	// readFailed: a read failed, and so does every later one (a frame's
	// remains are not a frame to parse); reader-owned.
	readFailed bool
}

var (
	// errReadLimit is a message over the read limit: the session ends
	// with a transport error, as Node's does for a payload over
	// maxHttpBufferSize.
	errReadLimit = errors.New("websocket: read limit exceeded")
	errCloseSent = errors.New("websocket: close sent")
	errReadAgain = errors.New("websocket: read after a failed read")
	// errWriteTimeout is a control frame that could not take the write
	// lock before its deadline.
	errWriteTimeout = errors.New("websocket: timed out waiting to write a control frame")
)

// wsCloseError is the client's close frame, as a read's error.
type wsCloseError struct{ code int }

func (e *wsCloseError) Error() string {
	return "websocket: the client closed the connection (close code " + strconv.Itoa(e.code) + ")"
}

// writeWait bounds the control frames the reader writes in answer to the
// client's (a pong, the close handshake, a protocol error's close), as
// gorilla's writeWait does.
const writeWait = time.Second

// isWebSocketUpgrade reports whether r asks to switch to the WebSocket
// protocol: "upgrade" among its Connection tokens and "websocket" among
// its Upgrade tokens (RFC 6455 4.2.1).
func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether one of the comma-separated values of the
// header named name is token, ignoring case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[name] {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// validChallengeKey reports whether key is a Sec-WebSocket-Key: the
// base64 form of 16 bytes (RFC 6455 4.1).
func validChallengeKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// acceptWebSocket completes the WebSocket handshake of r and returns the
// connection. A request that is not a version 13 WebSocket handshake with
// a valid key gets a 400 (Node's engine.io answer, whatever the fault) and
// an error. cookieID is the sid to set in the session cookie, on
// handshakes.
func acceptWebSocket(w http.ResponseWriter, r *http.Request, opts *settings, cookieID string) (*wsConn, error) {
	var fault string
	switch {
	case !isWebSocketUpgrade(r):
		fault = "not a WebSocket upgrade"
	case r.Method != http.MethodGet:
		fault = "request method is not GET"
	case !headerHasToken(r.Header, "Sec-Websocket-Version", "13"):
		fault = "unsupported version: 13 not found in 'Sec-Websocket-Version' header"
	case !validChallengeKey(r.Header.Get("Sec-Websocket-Key")):
		fault = "'Sec-WebSocket-Key' header must be the base64 form of 16 bytes"
	}
	if fault != "" {
		writeUpgradeError(w, codeBadRequest, "")
		return nil, errors.New("websocket: bad handshake: " + fault)
	}
	compress := opts.PerMessageDeflate && offersDeflate(r.Header)
	c, err := newHijackable(w, r, opts, cookieID).hijack(compress)
	if err != nil {
		return nil, err
	}
	c.readLimit = opts.MaxPayload
	return c, nil
}

// SetWriteDeadline sets the deadline of the data frames written next.
func (c *wsConn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	c.dataDeadline = deadlineKey(t)
	c.wmu.Unlock()
	return nil
}

func deadlineKey(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// enableWriteCompression says whether the data messages written next are
// compressed, if per-message deflate was negotiated.
func (c *wsConn) enableWriteCompression(on bool) {
	if !c.compress {
		return
	}
	c.wmu.Lock()
	c.compressNext = on
	c.wmu.Unlock()
}

// Reading.

// readBuffer is a connection's read buffer while a reader is active; it
// holds at least a control frame whole (header and payload: 139 bytes).
type readBuffer [wsReadBufferSize]byte

// buffered is how many read bytes wait in the read buffer.
func (c *batchConn) buffered() int { return int(c.rend - c.rpos) }

// peek returns the next n bytes (n at most the read buffer's size), reading
// until they are there.
func (c *batchConn) peek(n int) ([]byte, error) {
	if c.rbuf == nil {
		c.unparkReadBuffer()
	}
	for c.buffered() < n {
		if c.rpos > 0 && int(c.rpos)+n > len(c.rbuf) {
			m := copy(c.rbuf[:], c.rbuf[c.rpos:c.rend])
			c.rpos, c.rend = 0, int32(m)
		}
		m, err := c.Read(c.rbuf[c.rend:])
		c.rend += int32(m)
		if err != nil && c.buffered() < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return c.rbuf[c.rpos : int(c.rpos)+n], nil
}

// discard drops n peeked bytes.
func (c *batchConn) discard(n int) { c.rpos += int32(n) }

// readFull fills p from the read buffer, then from the connection.
func (c *batchConn) readFull(p []byte) error {
	n := copy(p, c.rbuf[c.rpos:c.rend])
	c.rpos += int32(n)
	p = p[n:]
	if len(p) == 0 {
		return nil
	}
	if len(p) >= len(c.rbuf)/2 {
		_, err := io.ReadFull(c, p)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	b, err := c.peek(len(p))
	if err != nil {
		return err
	}
	copy(p, b)
	c.discard(len(p))
	return nil
}

// readMessage reads the next data message, answering the control frames
// before it. kind is wsText or wsBinary; data is the message's own (the
// caller may keep it). After an error every call fails.
func (c *wsConn) readMessage() (kind int, data []byte, err error) {
	if c.readFailed {
		return 0, nil, errReadAgain
	}
	kind, data, err = c.nextMessage()
	c.readFailed = err != nil
	return kind, data, err
}

// payloadChunk is how much more than what has arrived a payload's buffer
// grows by, so that a header announcing a large frame reserves memory only
// as its bytes come.
const payloadChunk = 64 << 10

func (c *wsConn) nextMessage() (int, []byte, error) {
	kind := 0
	compressed := false
	var data []byte
	for {
		h, err := c.readHeader(kind != 0)
		if err != nil {
			return 0, nil, err
		}
		if h.opcode >= opClose {
			if err := c.controlFrame(h); err != nil {
				return 0, nil, err
			}
			continue
		}
		if kind == 0 {
			kind, compressed = int(h.opcode), h.rsv1
		}
		if c.readLimit > 0 && h.length > c.readLimit-int64(len(data)) {
			c.writeControl(opClose, closeFramePayload(closeMessageTooBig, ""), time.Now().Add(writeWait))
			return 0, nil, errReadLimit
		}
		pos := 0
		for n := h.length; n > 0; {
			chunk := int(min(n, int64(max(payloadChunk, len(data)))))
			data = slices.Grow(data, chunk)
			seg := data[len(data) : len(data)+chunk]
			if err := c.readFull(seg); err != nil {
				return 0, nil, err
			}
			pos = maskBytes(h.mask, pos, seg)
			data = data[:len(data)+chunk]
			n -= int64(chunk)
		}
		if h.fin {
			break
		}
	}
	if compressed {
		var err error
		if data, err = c.inflate(data); err != nil {
			return 0, nil, err
		}
	}
	if data == nil {
		data = []byte{}
	}
	return kind, data, nil
}

// readHeader reads the next frame's header. A frame that breaks the
// protocol is answered with a close frame (1002 and what was wrong, as
// gorilla says it) and ends reading.
func (c *wsConn) readHeader(inMessage bool) (frameHeader, error) {
	b, err := c.peek(2)
	if err != nil {
		return frameHeader{}, err
	}
	// The first two bytes tell most faults: answer them without waiting
	// for the rest of the header.
	h, err := parseFrameHeader(b, c.compress, inMessage)
	if err == errShortHeader {
		if b, err = c.peek(frameHeaderSize(b[1])); err != nil {
			return frameHeader{}, err
		}
		h, err = parseFrameHeader(b, c.compress, inMessage)
	}
	if err != nil {
		return frameHeader{}, c.protocolFailure(err)
	}
	c.discard(h.headSize)
	return h, nil
}

// protocolFailure sends the close frame for a protocol error and returns it.
func (c *wsConn) protocolFailure(err error) error {
	var pe protocolError
	if errors.As(err, &pe) {
		c.writeControl(opClose, closeFramePayload(closeProtocolError, string(pe)), time.Now().Add(writeWait))
	}
	return err
}

// controlFrame reads and handles a ping, pong or close frame: a ping is
// answered with a pong of its payload, a close frame with a close frame
// of its code (the read then fails with a wsCloseError).
func (c *wsConn) controlFrame(h frameHeader) error {
	payload, err := c.peek(int(h.length))
	if err != nil {
		return err
	}
	maskBytes(h.mask, 0, payload)
	defer c.discard(len(payload))
	switch h.opcode {
	case opPing:
		err := c.writeControl(opPong, payload, time.Now().Add(writeWait))
		var ne net.Error
		if err == errCloseSent || err == errWriteTimeout || errors.As(err, &ne) && ne.Timeout() {
			return nil // as gorilla: a pong that cannot go in time is no reason to stop reading
		}
		return err
	case opClose:
		code, err := parseClosePayload(payload)
		if err != nil {
			return c.protocolFailure(err)
		}
		c.writeControl(opClose, closeFramePayload(code, ""), time.Now().Add(writeWait))
		return &wsCloseError{code: code}
	}
	return nil // a pong: nothing to do
}

// deflateTail ends a message's compressed data (RFC 7692 7.2.2: the four
// bytes the sender removed) and then an empty final block, so that the
// inflater ends cleanly.
const deflateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

var flateReaders = sync.Pool{New: func() any { return flate.NewReader(nil) }}

// inflate decompresses a compressed message, which may not inflate past
// the read limit either.
func (c *wsConn) inflate(data []byte) ([]byte, error) {
	fr := flateReaders.Get().(io.ReadCloser)
	defer flateReaders.Put(fr)
	if err := fr.(flate.Resetter).Reset(io.MultiReader(bytes.NewReader(data), strings.NewReader(deflateTail)), nil); err != nil {
		return nil, err
	}
	var r io.Reader = fr
	if c.readLimit > 0 {
		r = io.LimitReader(fr, c.readLimit+1)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if c.readLimit > 0 && int64(len(out)) > c.readLimit {
		c.writeControl(opClose, closeFramePayload(closeMessageTooBig, ""), time.Now().Add(writeWait))
		return nil, errReadLimit
	}
	return out, nil
}

// Writing.

// frameBuffers hold a frame while it is written; see batchConn.writeFrame.
var frameBuffers = sync.Pool{New: func() any { b := make([]byte, 0, smallFrame); return &b }}

// smallFrame is the largest frame copied whole into one buffer to go in
// one write; a larger one goes as its header, then its payload as it is.
const smallFrame = 4096

// writeMessage writes one data message of kind wsText or wsBinary, whose
// payload is prefix then data (a packet's type byte and its data), as one
// frame, compressed if enableWriteCompression asked it.
func (c *wsConn) writeMessage(kind int, prefix, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	c.setWriteDeadlineKey(c.dataDeadline)
	var hdr [maxFrameHeader]byte
	if c.compress && c.compressNext {
		bp := frameBuffers.Get().(*[]byte)
		out := deflatePayload((*bp)[:0], prefix, data)
		err := c.writeFrame(appendFrameHeader(hdr[:0], byte(kind), true, len(out)), nil, out)
		if cap(out) <= maxBatch { // a larger one is not kept
			*bp = out[:0]
			frameBuffers.Put(bp)
		}
		return err
	}
	return c.writeFrame(appendFrameHeader(hdr[:0], byte(kind), false, len(prefix)+len(data)), prefix, data)
}

// writePrepared writes a frame built once for many receivers
// (PreparedMessage.websocketFrame).
func (c *wsConn) writePrepared(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	c.setWriteDeadlineKey(c.dataDeadline)
	_, err := c.Write(frame)
	return err
}

// writeControl writes a control frame with its own deadline, which also
// bounds the wait for the write lock (a data frame may be stuck on a
// client that does not read). After a close frame nothing more is
// written.
func (c *wsConn) writeControl(opcode byte, payload []byte, deadline time.Time) error {
	for !c.wmu.TryLock() {
		if time.Now().After(deadline) {
			return errWriteTimeout
		}
		time.Sleep(time.Millisecond)
	}
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	if opcode == opClose {
		c.closeSent = true
	}
	c.setWriteDeadlineKey(deadlineKey(deadline))
	var hdr [maxFrameHeader]byte
	return c.writeFrame(appendFrameHeader(hdr[:0], opcode, false, len(payload)), payload, nil)
}

// closeWebSocket sends a close frame (best effort, bounded) and closes.
func closeWebSocket(conn *wsConn) {
	conn.writeControl(opClose, closeFramePayload(closeNormal, ""), time.Now().Add(closeGrace))
	conn.Close()
}

// sliceWriter appends what is written to it.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// deflateLevel is gorilla's default compression level: fast, since each
// message starts with an empty window anyway.
const deflateLevel = 1

var flateWriters sync.Pool // *flate.Writer at deflateLevel

// deflatePayload appends the compressed form of prefix and data, as one
// message without context takeover (RFC 7692 7.2.1: a sync flush, its
// final four bytes removed).
func deflatePayload(dst, prefix, data []byte) []byte {
	sw := &sliceWriter{b: dst}
	fw, _ := flateWriters.Get().(*flate.Writer)
	if fw == nil {
		fw, _ = flate.NewWriter(sw, deflateLevel)
	} else {
		fw.Reset(sw)
	}
	fw.Write(prefix)
	fw.Write(data)
	fw.Flush()
	fw.Reset(nil) // drop sw
	flateWriters.Put(fw)
	out := sw.b
	if bytes.HasSuffix(out[len(dst):], []byte{0, 0, 0xff, 0xff}) {
		out = out[:len(out)-4]
	}
	return out
}
