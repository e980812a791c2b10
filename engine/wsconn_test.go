package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// clientFrame is a masked client frame (RFC 6455 5.2) with a non-zero
// mask key, so the server must unmask it; b0 is the first byte (FIN, RSV,
// opcode).
func clientFrame(b0 byte, payload []byte) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	var b []byte
	switch n := len(payload); {
	case n <= 125:
		b = []byte{b0, 0x80 | byte(n)}
	case n <= 0xffff:
		b = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		b = binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, uint64(n))
	}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i&3])
	}
	return b
}

// readUntilClose reads messages (heartbeats, echoes) until the server's
// close frame, and returns it.
func readUntilClose(t *testing.T, conn *websocket.Conn) *websocket.CloseError {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, data, err := conn.ReadMessage()
		if err == nil {
			if len(data) > 0 && data[0] == '4' {
				t.Fatalf("a message was echoed: %q", data)
			}
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read: %v, want a close frame", err)
		}
		return ce
	}
}

func TestAFragmentedMessageWithControlFramesBetweenItsFragmentsArrivesWhole(t *testing.T) {
	ws := newWireServer(t, Options{})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	pongs := make(chan string, 1)
	conn.SetPongHandler(func(data string) error { pongs <- data; return nil })
	big := strings.Repeat("y", 70000) // a 64-bit length in the middle fragment
	var frames []byte
	frames = append(frames, clientFrame(wsText, []byte("4hel"))...) // FIN clear
	frames = append(frames, clientFrame(finalBit|opPing, []byte("are you there"))...)
	frames = append(frames, clientFrame(opContinuation, []byte(big))...)
	frames = append(frames, clientFrame(finalBit|opPong, nil)...) // unsolicited: ignored
	frames = append(frames, clientFrame(finalBit|opContinuation, []byte("lo"))...)
	if _, err := conn.NetConn().Write(frames); err != nil {
		t.Fatal(err)
	}
	readEchoes(t, conn, []string{"4hel" + big + "lo"})
	select {
	case p := <-pongs:
		if p != "are you there" {
			t.Fatalf("pong %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong to the ping")
	}
}

func TestAMessageGorillaFragmentsIsReadWhole(t *testing.T) {
	ws := newWireServer(t, Options{})
	// A small write buffer: gorilla sends a long message as many frames.
	d := websocket.Dialer{WriteBufferSize: 256}
	conn, _, err := d.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, data, err := conn.ReadMessage(); err != nil || data[0] != '0' {
		t.Fatalf("open packet: %q %v", data, err)
	}
	msg := "4" + strings.Repeat("fragment ", 500)
	conn.WriteMessage(websocket.TextMessage, []byte(msg))
	conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	readEchoes(t, conn, []string{msg, "\x01\x02\x03"})
}

func TestFramesThatBreakTheProtocolAreClosedWith1002(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames []byte
		text   string // gorilla's words for it
	}{
		{"unmasked", []byte{0x81, 0x02, '4', 'x'}, "bad MASK"},
		{"reserved opcode", clientFrame(finalBit|0x3, []byte("4x")), "bad opcode 3"},
		{"reserved control opcode", clientFrame(finalBit|0xb, nil), "bad opcode 11"},
		{"RSV1 without deflate", clientFrame(finalBit|rsv1Bit|wsText, []byte("4x")), "RSV1 set"},
		{"RSV2", clientFrame(finalBit|rsv2Bit|wsText, []byte("4x")), "RSV2 set"},
		{"continuation first", clientFrame(finalBit|opContinuation, []byte("4x")), "continuation after FIN"},
		{"new message inside a fragmented one", append(clientFrame(wsText, []byte("4a")), clientFrame(finalBit|wsText, []byte("4b"))...), "data before FIN"},
		{"fragmented ping", clientFrame(opPing, nil), "FIN not set on control"},
		{"control frame over 125 bytes", clientFrame(finalBit|opPing, make([]byte, 126)), "len > 125 for control"},
		{"close code 1005", clientFrame(finalBit|opClose, []byte{0x03, 0xed}), "bad close code 1005"},
		{"close code 999", clientFrame(finalBit|opClose, []byte{0x03, 0xe7}), "bad close code 999"},
		{"close frame of one byte", clientFrame(finalBit|opClose, []byte{0x03}), "close frame of one byte"},
		{"close reason not UTF-8", clientFrame(finalBit|opClose, []byte{0x03, 0xe8, 0xff}), "invalid utf8 payload in close frame"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWireServer(t, Options{})
			conn := dialOpen(t, ws, "EIO=4&transport=websocket")
			defer conn.Close()
			if _, err := conn.NetConn().Write(tc.frames); err != nil {
				t.Fatal(err)
			}
			ce := readUntilClose(t, conn)
			if ce.Code != websocket.CloseProtocolError || ce.Text != tc.text {
				t.Fatalf("close %d %q, want 1002 %q", ce.Code, ce.Text, tc.text)
			}
			if r := ws.reason(t); r != "transport close" {
				t.Fatalf("close reason %q", r)
			}
			if got := ws.delivered(); len(got) != 0 {
				t.Fatalf("delivered %q", got[0].Data)
			}
		})
	}
}

func TestAClientsCloseFrameIsAnsweredWithItsCode(t *testing.T) {
	for _, code := range []int{websocket.CloseNormalClosure, websocket.CloseGoingAway, 4001} {
		ws := newWireServer(t, Options{})
		conn := dialOpen(t, ws, "EIO=4&transport=websocket")
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, "bye"))
		ce := readUntilClose(t, conn)
		if ce.Code != code || ce.Text != "" {
			t.Fatalf("answer to close %d: %d %q", code, ce.Code, ce.Text)
		}
		if r := ws.reason(t); r != "transport close" {
			t.Fatalf("close reason %q", r)
		}
		conn.Close()
	}
	// Without a code, the answer has none either.
	ws := newWireServer(t, Options{})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	conn.WriteMessage(websocket.CloseMessage, nil)
	if ce := readUntilClose(t, conn); ce.Code != websocket.CloseNoStatusReceived {
		t.Fatalf("answer to an empty close: %d %q", ce.Code, ce.Text)
	}
}

func TestAFragmentedMessageOverTheLimitIsClosedWith1009(t *testing.T) {
	ws := newWireServer(t, Options{MaxPayload: 100})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	// 60 + 60 bytes: each fragment within the limit, the message not.
	frames := append(clientFrame(wsText, []byte("4"+strings.Repeat("a", 59))), clientFrame(finalBit|opContinuation, bytes.Repeat([]byte("b"), 60))...)
	if _, err := conn.NetConn().Write(frames); err != nil {
		t.Fatal(err)
	}
	if ce := readUntilClose(t, conn); ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("close %d %q, want 1009", ce.Code, ce.Text)
	}
	if r := ws.reason(t); r != "transport error" {
		t.Fatalf("close reason %q", r)
	}
}

func TestAHeaderAnnouncingAHugeFrameIsClosedWith1009BeforeItsPayload(t *testing.T) {
	ws := newWireServer(t, Options{MaxPayload: 1000})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	hdr := binary.BigEndian.AppendUint64([]byte{finalBit | wsText, 0x80 | 127}, 1<<62)
	hdr = append(hdr, 1, 2, 3, 4)
	if _, err := conn.NetConn().Write(hdr); err != nil {
		t.Fatal(err)
	}
	if ce := readUntilClose(t, conn); ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("close %d %q, want 1009", ce.Code, ce.Text)
	}
}

func TestPerMessageDeflateBothWays(t *testing.T) {
	ws := newWireServer(t, Options{PerMessageDeflate: true, MaxPayload: 1 << 20})
	d := websocket.Dialer{EnableCompression: true}
	conn, res, err := d.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := res.Header.Get("Sec-WebSocket-Extensions"); got != "permessage-deflate; server_no_context_takeover; client_no_context_takeover" {
		t.Fatalf("extensions %q", got)
	}
	if _, data, err := conn.ReadMessage(); err != nil || data[0] != '0' {
		t.Fatalf("open packet: %q %v", data, err)
	}
	// gorilla compresses every message it sends; the server compresses
	// those of 1024 bytes and more.
	long := "4" + strings.Repeat("compressible ", 1000)
	for _, m := range []string{"4short", long, "4", long} {
		conn.WriteMessage(websocket.TextMessage, []byte(m))
	}
	conn.WriteMessage(websocket.BinaryMessage, bytes.Repeat([]byte{7}, 5000))
	readEchoes(t, conn, []string{"4short", long, "4", long, string(bytes.Repeat([]byte{7}, 5000))})
}

func TestServerFramesAreCompressedFromTheThreshold(t *testing.T) {
	ws := newWireServer(t, Options{PerMessageDeflate: true})
	d := websocket.Dialer{EnableCompression: true}
	conn, _, err := d.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, _, err := conn.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	conn.EnableWriteCompression(false)
	long := "4" + strings.Repeat("z", 2000)
	conn.WriteMessage(websocket.TextMessage, []byte("4hi"))
	conn.WriteMessage(websocket.TextMessage, []byte(long))
	// Read the raw frames: the short echo plain, the long one compressed.
	conn.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, 5)
	if _, err := io.ReadFull(conn.NetConn(), head); err != nil || !bytes.Equal(head, []byte{0x81, 3, '4', 'h', 'i'}) {
		t.Fatalf("short echo % x, %v", head, err)
	}
	if _, err := io.ReadFull(conn.NetConn(), head[:2]); err != nil || head[0] != finalBit|rsv1Bit|wsText || int(head[1]) >= len(long) {
		t.Fatalf("long echo's header % x, %v: want RSV1 and a compressed length", head[:2], err)
	}
}

func TestACompressedMessageInflatingPastTheLimitIsClosedWith1009(t *testing.T) {
	ws := newWireServer(t, Options{PerMessageDeflate: true, MaxPayload: 1000})
	d := websocket.Dialer{EnableCompression: true}
	conn, _, err := d.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.WriteMessage(websocket.TextMessage, []byte("4"+strings.Repeat("a", 5000))) // a few dozen bytes on the wire
	if ce := readUntilClose(t, conn); ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("close %d %q, want 1009", ce.Code, ce.Text)
	}
	if r := ws.reason(t); r != "transport error" {
		t.Fatalf("close reason %q", r)
	}
}

func TestUpgradeRequestsThatAreNotVersion13HandshakesAre400(t *testing.T) {
	ws := newWireServer(t, Options{})
	for _, tc := range []struct{ name, version, key string }{
		{"version 8", "8", "dGhlIHNhbXBsZSBub25jZQ=="},
		{"no key", "13", ""},
		{"a key of 15 bytes", "13", "dGhlIHNhbXBsZSBub25j"},
		{"a key that is not base64", "13", "not base64 at all!!!!!!!"},
	} {
		req, _ := http.NewRequest("GET", ws.url("EIO=4&transport=websocket"), nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", tc.version)
		if tc.key != "" {
			req.Header.Set("Sec-WebSocket-Key", tc.key)
		}
		res, err := ws.client.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("%s: %d %q, want 400", tc.name, res.StatusCode, body)
		}
	}
}

func TestFrameHeaderBytes(t *testing.T) {
	for _, tc := range []struct {
		op         byte
		compressed bool
		n          int
		want       []byte
	}{
		{wsText, false, 1, []byte{0x81, 1}},
		{wsBinary, true, 125, []byte{0xc2, 125}},
		{wsText, false, 126, []byte{0x81, 126, 0, 126}},
		{opClose, false, 0xffff, []byte{0x88, 126, 0xff, 0xff}},
		{wsText, false, 0x10000, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		if got := appendFrameHeader(nil, tc.op, tc.compressed, tc.n); !bytes.Equal(got, tc.want) {
			t.Errorf("header of %d bytes: % x, want % x", tc.n, got, tc.want)
		}
	}
	h, err := parseFrameHeader(clientFrame(finalBit|wsBinary, make([]byte, 300)), false, false)
	if err != nil || !h.fin || h.opcode != wsBinary || h.length != 300 || h.headSize != 8 || h.mask != [4]byte{0x37, 0xfa, 0x21, 0x3d} {
		t.Fatalf("parsed %+v, %v", h, err)
	}
	if _, err := parseFrameHeader([]byte{0x81, 0xfe, 0}, false, false); err != errShortHeader {
		t.Fatalf("short header: %v", err)
	}
	if _, err := parseFrameHeader(binary.BigEndian.AppendUint64([]byte{0x81, 0xff}, 1<<63), false, false); err == nil {
		t.Fatal("a 64-bit length with its top bit set was accepted")
	}
}

func TestMaskingIsItsOwnInverseAtAnyOffset(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	data := []byte(strings.Repeat("0123456789abcdef", 5))
	orig := bytes.Clone(data)
	// Masked in three uneven pieces, as payload arrives.
	pos := maskBytes(key, 0, data[:3])
	pos = maskBytes(key, pos, data[3:40])
	maskBytes(key, pos, data[40:])
	for i := range data {
		if data[i] != orig[i]^key[i&3] {
			t.Fatalf("byte %d masked wrong", i)
		}
	}
	maskBytes(key, 0, data)
	if !bytes.Equal(data, orig) {
		t.Fatal("masking twice did not give the original back")
	}
}

// scriptConn is a net.Conn that reads a fixed input and discards what is
// written to it: a connection for reading frames in isolation.
type scriptConn struct {
	net.Conn // nil: only the methods below are called
	r        *bytes.Reader
}

func (c *scriptConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) Close() error                     { return nil }

// scriptedWS is a server connection, per-message deflate negotiated, that
// reads input.
func scriptedWS(input []byte, limit int64) *wsConn {
	c := &wsConn{compress: true, readLimit: limit}
	c.Conn = &scriptConn{r: bytes.NewReader(input)}
	c.newReadBuffer()
	return c
}

func FuzzReadFrame(f *testing.F) {
	f.Add(clientFrame(finalBit|wsText, []byte("4hello")))
	f.Add(append(clientFrame(wsText, []byte("4he")), clientFrame(finalBit|opContinuation, []byte("llo"))...))
	f.Add(append(clientFrame(finalBit|opPing, []byte("p")), clientFrame(finalBit|opClose, []byte{3, 0xe8})...))
	f.Add(clientFrame(finalBit|rsv1Bit|wsText, []byte{0x2a, 0xc9, 0x48, 0x05, 0x00})) // deflated
	f.Add(binary.BigEndian.AppendUint64([]byte{finalBit | wsBinary, 0x80 | 127}, 1<<40))
	f.Add([]byte{0x81, 0x02, '4', 'x'})
	const limit = 4096
	f.Fuzz(func(t *testing.T, input []byte) {
		for _, lim := range []int64{limit, 0} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c := scriptedWS(input, lim)
			for range 64 {
				_, data, err := c.readMessage()
				if err != nil {
					break
				}
				if lim > 0 && int64(len(data)) > lim {
					t.Fatalf("a message of %d bytes passed the limit of %d", len(data), lim)
				}
			}
			runtime.ReadMemStats(&after)
			// What a message may reserve: the limit (or, without one, what
			// arrived plus a growth step), a few times over for the
			// buffers' growth, and the inflater's window and tables.
			bound := uint64(4*limit + 4*len(input) + 2*payloadChunk + 256<<10)
			if lim == 0 {
				bound = uint64(4*len(input) + 4*payloadChunk + 256<<10)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > bound {
				t.Fatalf("reading %d bytes allocated %d (bound %d)", len(input), got, bound)
			}
		}
	})
}
