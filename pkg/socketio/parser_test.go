package socketio

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		in      string
		want    Packet
		wantErr bool
	}{
		{in: "0", want: Packet{Type: PacketConnect, Nsp: "/", ID: noID}},
		{in: `0{"token":"123"}`, want: Packet{Type: PacketConnect, Nsp: "/", ID: noID, Data: json.RawMessage(`{"token":"123"}`)}},
		{in: "0/custom,", want: Packet{Type: PacketConnect, Nsp: "/custom", ID: noID}},
		{in: "0/custom", want: Packet{Type: PacketConnect, Nsp: "/custom", ID: noID}},
		{in: `0/custom,{"token":"abc"}`, want: Packet{Type: PacketConnect, Nsp: "/custom", ID: noID, Data: json.RawMessage(`{"token":"abc"}`)}},
		{in: "1", want: Packet{Type: PacketDisconnect, Nsp: "/", ID: noID}},
		{in: "1/custom,", want: Packet{Type: PacketDisconnect, Nsp: "/custom", ID: noID}},
		{in: `2["message",1,"2",{"3":[true]}]`, want: Packet{Type: PacketEvent, Nsp: "/", ID: noID, Data: json.RawMessage(`["message",1,"2",{"3":[true]}]`)}},
		{in: `2456["message-with-ack",1]`, want: Packet{Type: PacketEvent, Nsp: "/", ID: 456, Data: json.RawMessage(`["message-with-ack",1]`)}},
		{in: `2/custom,7["a"]`, want: Packet{Type: PacketEvent, Nsp: "/custom", ID: 7, Data: json.RawMessage(`["a"]`)}},
		{in: `312["ok"]`, want: Packet{Type: PacketAck, Nsp: "/", ID: 12, Data: json.RawMessage(`["ok"]`)}},
		{in: `52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, want: Packet{Type: PacketBinaryEvent, Nsp: "/", ID: noID, Attachments: 2, Data: json.RawMessage(`["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)}},
		{in: `61-/custom,789[{"_placeholder":true,"num":0}]`, want: Packet{Type: PacketBinaryAck, Nsp: "/custom", ID: 789, Attachments: 1, Data: json.RawMessage(`[{"_placeholder":true,"num":0}]`)}},
		{in: "", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "7", wantErr: true},
		{in: "2", wantErr: true},            // event without payload
		{in: "2{}", wantErr: true},          // payload not an array
		{in: "2[]", wantErr: true},          // no event name
		{in: "2[1]", wantErr: true},         // name not a string
		{in: `2abc["a"]`, wantErr: true},    // bad ack id
		{in: `2["a"`, wantErr: true},        // broken JSON
		{in: `2["connect"]`, wantErr: true}, // reserved name
		{in: `0"x"`, wantErr: true},
		{in: `1{}`, wantErr: true},
		{in: `3["a"]`, wantErr: true}, // ack without id
		{in: `3{}`, wantErr: true},
		{in: `5["a"]`, wantErr: true}, // binary without count
		{in: `5x-["a"]`, wantErr: true},
		{in: `5999-["a"]`, wantErr: true}, // too many attachments
		{in: `21234567890123456["a"]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidPacket) {
					t.Fatalf("err = %v, want ErrInvalidPacket", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tt.want.Type || got.Nsp != tt.want.Nsp || got.ID != tt.want.ID ||
				got.Attachments != tt.want.Attachments || string(got.Data) != string(tt.want.Data) {
				t.Fatalf("got %+v (data %s), want %+v (data %s)", got, got.Data, tt.want, tt.want.Data)
			}
		})
	}
}

func TestEncodePacket(t *testing.T) {
	tests := []struct {
		name  string
		t     PacketType
		nsp   string
		id    int64
		event string
		args  []any
		atts  [][]byte
		want  string
		nbin  int
	}{
		{name: "event", t: PacketEvent, nsp: "/", id: noID, event: "hello", args: []any{1, "2", json.RawMessage(`{"b":1,"a":2}`)}, want: `2["hello",1,"2",{"b":1,"a":2}]`},
		{name: "namespace and id", t: PacketEvent, nsp: "/custom", id: 3, event: "x", want: `2/custom,3["x"]`},
		{name: "ack", t: PacketAck, nsp: "/", id: 456, args: []any{1, "2"}, want: `3456[1,"2"]`},
		{name: "binary event", t: PacketEvent, nsp: "/", id: noID, event: "message-back", args: []any{[]byte{1}, []byte{2}}, want: `52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, nbin: 2},
		{name: "raw binary ack", t: PacketAck, nsp: "/", id: 789, args: []any{json.RawMessage(`{"_placeholder":true,"num":0}`)}, atts: [][]byte{{1, 2, 3}}, want: `61-789[{"_placeholder":true,"num":0}]`, nbin: 1},
		{name: "no html escaping", t: PacketEvent, nsp: "/", id: noID, event: "m", args: []any{"<a&b>", map[string]string{"k": "<>"}}, want: `2["m","<a&b>",{"k":"<>"}]`},
		{name: "string escapes", t: PacketEvent, nsp: "/", id: noID, event: "m", args: []any{"q\"\\\n\x01é"}, want: `2["m","q\"\\\n\u0001é"]`},
		{name: "nil arg", t: PacketEvent, nsp: "/", id: noID, event: "m", args: []any{nil, json.RawMessage(nil)}, want: `2["m",null,null]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := encodePacket(tt.t, tt.nsp, tt.id, tt.event, tt.args, tt.atts)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(msgs[0].Data); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if len(msgs)-1 != tt.nbin {
				t.Fatalf("%d attachments, want %d", len(msgs)-1, tt.nbin)
			}
			for _, m := range msgs[1:] {
				if !m.Binary {
					t.Fatal("attachment not binary")
				}
			}
			if _, err := Decode(msgs[0].Data); err != nil && tt.t != PacketAck {
				t.Fatalf("encoded packet does not decode: %v", err)
			}
		})
	}
}

func TestEventValues(t *testing.T) {
	ev := &Event{
		Args:        []json.RawMessage{json.RawMessage(`{"_placeholder":true,"num":1}`), json.RawMessage(`"x"`), json.RawMessage(`{"_placeholder":true,"num":5}`)},
		Attachments: [][]byte{{1}, {2}},
	}
	v := ev.Values()
	if b, ok := v[0].([]byte); !ok || b[0] != 2 {
		t.Fatalf("placeholder 1 not resolved: %#v", v[0])
	}
	if _, ok := v[1].(json.RawMessage); !ok {
		t.Fatalf("plain arg changed: %#v", v[1])
	}
	if _, ok := v[2].(json.RawMessage); !ok {
		t.Fatalf("out-of-range placeholder resolved: %#v", v[2])
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"0", `0{"token":"1"}`, "0/custom,", "1", `2["a",1]`, `2/x,5["a"]`, `3456[1]`,
		`52-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "4abc", `2abc["a"]`, "2{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(in)
		if err != nil {
			return
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("accepted invalid JSON %q", p.Data)
		}
		if p.Type == PacketEvent || p.Type == PacketBinaryEvent {
			args, err := decodeArgs(p.Data)
			if err != nil || len(args) == 0 {
				t.Fatalf("accepted event without args: %q", in)
			}
		}
		if p.Attachments < 0 || p.Attachments > MaxAttachments {
			t.Fatalf("attachments %d", p.Attachments)
		}
	})
}

// Binary data nested in objects survives a round trip: decoded by Values,
// encoded again with fresh placeholders and the attachments in order.
func TestNestedBinaryRoundTrip(t *testing.T) {
	ev := &Event{
		Args: []json.RawMessage{
			json.RawMessage(`{"_placeholder":true,"num":0}`),
			json.RawMessage(`{"a":{"_placeholder":true,"num":1},"list":[1,{"_placeholder":true,"num":0}]}`),
			json.RawMessage(`{"plain":true}`),
		},
		Attachments: [][]byte{{1}, {2, 2}},
	}
	msgs, err := encodePacket(PacketEvent, "/", noID, "echo", ev.Values(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `53-["echo",{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":1},"list":[1,{"_placeholder":true,"num":2}]},{"plain":true}]`
	if got := string(msgs[0].Data); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if len(msgs) != 4 || string(msgs[1].Data) != "\x01" || string(msgs[2].Data) != "\x02\x02" || string(msgs[3].Data) != "\x01" {
		t.Fatalf("%d messages", len(msgs))
	}
}
