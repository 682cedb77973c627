package engineio

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gobwas/ws"
)

func TestDecodePacket(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		allowB64 bool
		want     Packet
		wantErr  bool
	}{
		{name: "message", in: "4hello", want: Packet{Type: PacketMessage, Data: []byte("hello")}},
		{name: "empty message", in: "4", want: Packet{Type: PacketMessage, Data: []byte{}}},
		{name: "pong", in: "3", want: Packet{Type: PacketPong, Data: []byte{}}},
		{name: "probe", in: "2probe", want: Packet{Type: PacketPing, Data: []byte("probe")}},
		{name: "close", in: "1", want: Packet{Type: PacketClose, Data: []byte{}}},
		{name: "noop", in: "6", want: Packet{Type: PacketNoop, Data: []byte{}}},
		{name: "base64 in payload", in: "bAQIDBA==", allowB64: true, want: Packet{Type: PacketMessage, Binary: true, Data: []byte{1, 2, 3, 4}}},
		{name: "base64 not allowed on websocket", in: "bAQIDBA==", wantErr: true},
		{name: "bad base64", in: "b!!!", allowB64: true, wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "unknown type", in: "7", wantErr: true},
		{name: "letters", in: "abc", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePacket([]byte(tt.in), tt.allowB64)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidPacket) {
					t.Fatalf("err = %v, want ErrInvalidPacket", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tt.want.Type || got.Binary != tt.want.Binary || !bytes.Equal(got.Data, tt.want.Data) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // type+data, binary shown as "B"+data
		wantErr bool
	}{
		{name: "one", in: "4hello", want: []string{"4hello"}},
		{name: "three", in: "4test1\x1e4test2\x1e4test3", want: []string{"4test1", "4test2", "4test3"}},
		{name: "mixed", in: "4hello\x1ebAQIDBA==", want: []string{"4hello", "B\x01\x02\x03\x04"}},
		{name: "empty", in: "", wantErr: true},
		{name: "trailing separator", in: "4a\x1e", wantErr: true},
		{name: "empty segment", in: "4a\x1e\x1e4b", wantErr: true},
		{name: "invalid packet", in: "abc", wantErr: true},
		{name: "invalid second", in: "4a\x1ezz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := DecodePayload([]byte(tt.in), func(p Packet) error {
				if p.Binary {
					got = append(got, "B"+string(p.Data))
				} else {
					got = append(got, string(p.Type)+string(p.Data))
				}
				return nil
			})
			if tt.wantErr != (err != nil) {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestEncodePayload(t *testing.T) {
	got := encodePayload([]*Message{
		NewTextMessage([]byte("hello")),
		NewBinaryMessage([]byte{1, 2, 3, 4}),
		pingMessage,
	})
	if want := "4hello\x1ebAQIDBA==\x1e2"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestMessageFrame(t *testing.T) {
	tests := []struct {
		name   string
		msg    *Message
		op     ws.OpCode
		length int
		body   []byte
	}{
		{name: "text", msg: NewTextMessage([]byte("hi")), op: ws.OpText, body: []byte("4hi")},
		{name: "binary", msg: NewBinaryMessage([]byte{9, 8}), op: ws.OpBinary, body: []byte{9, 8}},
		{name: "ping", msg: pingMessage, op: ws.OpText, body: []byte("2")},
		{name: "16-bit length", msg: NewTextMessage(bytes.Repeat([]byte("x"), 300)), op: ws.OpText, body: append([]byte("4"), bytes.Repeat([]byte("x"), 300)...)},
		{name: "64-bit length", msg: NewBinaryMessage(bytes.Repeat([]byte("y"), 70000)), op: ws.OpBinary, body: bytes.Repeat([]byte("y"), 70000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := tt.msg.wsFrame()
			f, err := ws.ReadFrame(bytes.NewReader(frame))
			if err != nil {
				t.Fatal(err)
			}
			if f.Header.OpCode != tt.op || !f.Header.Fin || f.Header.Masked {
				t.Fatalf("header %+v", f.Header)
			}
			if !bytes.Equal(f.Payload, tt.body) {
				t.Fatalf("payload %q, want %q", f.Payload, tt.body)
			}
			if &tt.msg.wsFrame()[0] != &frame[0] {
				t.Fatal("frame was encoded twice")
			}
		})
	}
}

func TestOpenPacket(t *testing.T) {
	srv := NewServer(Config{PingInterval: 300e6, PingTimeout: 200e6, MaxPayload: 1000000}, nil)
	got := string(srv.openPacket("abc", true))
	want := `0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`
	if got != want {
		t.Fatalf("polling open = %s", got)
	}
	got = string(srv.openPacket("abc", false))
	want = `0{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`
	if got != want {
		t.Fatalf("websocket open = %s", got)
	}
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4hello", "4a\x1e4b", "bAQIDBA==", "1", "2probe", "4hello\x1ebAQIDBA==", "\x1e", "b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		n := 0
		err := DecodePayload(in, func(p Packet) error {
			n++
			if p.Type < PacketOpen || p.Type > PacketNoop {
				t.Fatalf("decoded invalid type %q", p.Type)
			}
			return nil
		})
		if err == nil && n == 0 {
			t.Fatal("valid payload without packets")
		}
	})
}

func FuzzFrameReader(f *testing.F) {
	masked := func(op ws.OpCode, fin bool, p []byte) []byte {
		var buf bytes.Buffer
		fr := ws.NewFrame(op, fin, append([]byte(nil), p...))
		fr = ws.MaskFrameInPlace(fr)
		_ = ws.WriteFrame(&buf, fr)
		return buf.Bytes()
	}
	f.Add(masked(ws.OpText, true, []byte("4hello")))
	f.Add(append(masked(ws.OpText, false, []byte("4he")), masked(ws.OpContinuation, true, []byte("llo"))...))
	f.Add(masked(ws.OpPing, true, []byte("x")))
	f.Add(masked(ws.OpClose, true, nil))
	f.Add(masked(ws.OpBinary, true, []byte{1, 2, 3}))
	f.Add(append(append(masked(ws.OpBinary, false, []byte{1}), masked(ws.OpPing, true, nil)...), masked(ws.OpContinuation, true, []byte{2})...))
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Add(masked(ws.OpText, true, bytes.Repeat([]byte("a"), 300)))
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := frameReader{r: bytes.NewReader(in), max: 1 << 16}
		for range 64 {
			op, data, err := fr.next(func([]byte) {})
			if err != nil {
				return
			}
			if op != ws.OpText && op != ws.OpBinary {
				t.Fatalf("returned opcode %v", op)
			}
			if int64(len(data)) > fr.max {
				t.Fatalf("message of %d bytes over max", len(data))
			}
		}
	})
}
