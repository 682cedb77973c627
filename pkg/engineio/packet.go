// Package engineio implements the server side of the Engine.IO protocol v4:
// the HTTP long-polling and WebSocket transports, the upgrade between them,
// the server-driven heartbeat and the framing of packets and payloads.
//
// The package knows nothing about Socket.IO; it hands each message to a
// SessionHandler and sends what it is given. Outgoing data is held as
// *Message values so that one message can be written to many sessions
// without encoding it again.
package engineio

import (
	"encoding/base64"
	"errors"
	"sync"

	"github.com/gobwas/ws"
)

// PacketType is an Engine.IO packet type, sent as a single ASCII digit.
type PacketType byte

// Engine.IO v4 packet types.
const (
	PacketOpen    PacketType = '0'
	PacketClose   PacketType = '1'
	PacketPing    PacketType = '2'
	PacketPong    PacketType = '3'
	PacketMessage PacketType = '4'
	PacketUpgrade PacketType = '5'
	PacketNoop    PacketType = '6'
)

// recordSeparator joins packets in a long-polling payload.
const recordSeparator = 0x1e

// ErrInvalidPacket is returned for data that is not an Engine.IO packet.
var ErrInvalidPacket = errors.New("engineio: invalid packet")

// Message is one outgoing packet. It is immutable once created and may be
// sent to any number of sessions concurrently: the WebSocket frame is built
// once, on first use, and the same bytes are then written to every peer.
type Message struct {
	Type   PacketType
	Binary bool   // binary message (Type is PacketMessage)
	Data   []byte // packet data without the type character
	// Volatile marks an update that a newer one supersedes (viewer counts,
	// typing indicators): a client that has fallen behind loses these first.
	Volatile bool

	frameOnce sync.Once
	frame     []byte
}

// NewTextMessage returns a message packet carrying text data.
func NewTextMessage(data []byte) *Message { return &Message{Type: PacketMessage, Data: data} }

// NewBinaryMessage returns a message packet carrying binary data.
func NewBinaryMessage(data []byte) *Message {
	return &Message{Type: PacketMessage, Binary: true, Data: data}
}

// Shared control packets; they carry no per-session data.
var (
	pingMessage  = &Message{Type: PacketPing}
	noopMessage  = &Message{Type: PacketNoop}
	closeMessage = &Message{Type: PacketClose}
)

// wsFrame returns the complete, unmasked server WebSocket frame for m.
func (m *Message) wsFrame() []byte {
	m.frameOnce.Do(func() {
		op := ws.OpText
		n := len(m.Data) + 1
		if m.Binary {
			op = ws.OpBinary
			n = len(m.Data)
		}
		h := ws.Header{Fin: true, OpCode: op, Length: int64(n)}
		buf := make([]byte, 0, ws.HeaderSize(h)+n)
		buf = appendHeader(buf, h)
		if !m.Binary {
			buf = append(buf, byte(m.Type))
		}
		m.frame = append(buf, m.Data...)
	})
	return m.frame
}

// appendHeader appends the encoding of an unmasked frame header.
func appendHeader(dst []byte, h ws.Header) []byte {
	b0 := byte(h.OpCode)
	if h.Fin {
		b0 |= 0x80
	}
	switch {
	case h.Length < 126:
		return append(dst, b0, byte(h.Length))
	case h.Length <= 0xffff:
		return append(dst, b0, 126, byte(h.Length>>8), byte(h.Length))
	default:
		l := uint64(h.Length)
		return append(dst, b0, 127,
			byte(l>>56), byte(l>>48), byte(l>>40), byte(l>>32),
			byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	}
}

// appendPolling appends m as it travels in a long-polling payload.
func (m *Message) appendPolling(dst []byte) []byte {
	if m.Binary {
		dst = append(dst, 'b')
		return base64.StdEncoding.AppendEncode(dst, m.Data)
	}
	dst = append(dst, byte(m.Type))
	return append(dst, m.Data...)
}

// pollingLen is the encoded length of m in a long-polling payload.
func (m *Message) pollingLen() int {
	if m.Binary {
		return 1 + base64.StdEncoding.EncodedLen(len(m.Data))
	}
	return 1 + len(m.Data)
}

// Packet is one decoded incoming packet. Data aliases the input.
type Packet struct {
	Type   PacketType
	Binary bool
	Data   []byte
}

// DecodePacket decodes one text packet (as found in a WebSocket text frame or
// a long-polling payload segment). A segment starting with 'b' is a base64
// binary message, which only occurs in long-polling payloads; allowB64 says
// whether it is accepted.
func DecodePacket(b []byte, allowB64 bool) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, ErrInvalidPacket
	}
	t := b[0]
	if t == 'b' && allowB64 {
		data, err := base64.StdEncoding.AppendDecode(nil, b[1:])
		if err != nil {
			return Packet{}, ErrInvalidPacket
		}
		return Packet{Type: PacketMessage, Binary: true, Data: data}, nil
	}
	if t < byte(PacketOpen) || t > byte(PacketNoop) {
		return Packet{}, ErrInvalidPacket
	}
	return Packet{Type: PacketType(t), Data: b[1:]}, nil
}

// DecodePayload splits a long-polling payload into packets and calls fn for
// each; it stops at the first invalid packet or error returned by fn.
func DecodePayload(b []byte, fn func(Packet) error) error {
	if len(b) == 0 {
		return ErrInvalidPacket
	}
	for len(b) > 0 {
		seg := b
		rest := []byte(nil)
		for i, c := range b {
			if c == recordSeparator {
				seg, rest = b[:i], b[i+1:]
				if len(rest) == 0 {
					return ErrInvalidPacket
				}
				break
			}
		}
		p, err := DecodePacket(seg, true)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		b = rest
	}
	return nil
}
