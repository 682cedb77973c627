// Package socketio implements the server side of the Socket.IO protocol v5
// on top of package engineio: namespaces with connect middleware, events and
// acknowledgements in both directions, binary attachments, and local rooms
// with broadcasts that encode a packet once for all recipients.
package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"unicode/utf8"
)

// PacketType is a Socket.IO packet type.
type PacketType byte

// Socket.IO v5 packet types.
const (
	PacketConnect      PacketType = '0'
	PacketDisconnect   PacketType = '1'
	PacketEvent        PacketType = '2'
	PacketAck          PacketType = '3'
	PacketConnectError PacketType = '4'
	PacketBinaryEvent  PacketType = '5'
	PacketBinaryAck    PacketType = '6'
)

// MaxAttachments bounds the binary attachments of one packet.
const MaxAttachments = 64

// noID marks a packet without an acknowledgement id.
const noID = -1

// ErrInvalidPacket reports data that is not a valid Socket.IO packet.
var ErrInvalidPacket = errors.New("socketio: invalid packet")

// Packet is a decoded Socket.IO packet. Data is the raw JSON payload (nil
// when absent) and aliases the decoded input.
type Packet struct {
	Type        PacketType
	Nsp         string
	ID          int64 // noID when absent
	Attachments int
	Data        json.RawMessage
}

// reservedEvents may not be sent by a client: they name local life-cycle
// events in the client library.
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

// Decode parses one Socket.IO packet from an Engine.IO text message.
func Decode(b []byte) (Packet, error) {
	p := Packet{Nsp: "/", ID: noID}
	if len(b) == 0 || b[0] < byte(PacketConnect) || b[0] > byte(PacketBinaryAck) {
		return p, ErrInvalidPacket
	}
	p.Type = PacketType(b[0])
	i := 1
	if p.Type == PacketBinaryEvent || p.Type == PacketBinaryAck {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start || i >= len(b) || b[i] != '-' || i-start > 3 {
			return p, ErrInvalidPacket
		}
		n, _ := strconv.Atoi(string(b[start:i]))
		if n > MaxAttachments {
			return p, ErrInvalidPacket
		}
		p.Attachments = n
		i++
	}
	if i < len(b) && b[i] == '/' {
		start := i
		for i < len(b) && b[i] != ',' {
			i++
		}
		p.Nsp = string(b[start:i])
		if i < len(b) {
			i++ // the comma
		}
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i > start {
		if i-start > 15 {
			return p, ErrInvalidPacket
		}
		p.ID, _ = strconv.ParseInt(string(b[start:i]), 10, 64)
	}
	if i < len(b) {
		p.Data = b[i:]
		if !json.Valid(p.Data) {
			return p, ErrInvalidPacket
		}
	}
	if !payloadValid(p) {
		return p, ErrInvalidPacket
	}
	return p, nil
}

func firstByte(raw []byte) byte {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return c
		}
	}
	return 0
}

func payloadValid(p Packet) bool {
	switch p.Type {
	case PacketConnect:
		return p.Data == nil || firstByte(p.Data) == '{'
	case PacketDisconnect:
		return p.Data == nil
	case PacketConnectError:
		c := firstByte(p.Data)
		return c == '{' || c == '"'
	case PacketEvent, PacketBinaryEvent:
		if firstByte(p.Data) != '[' {
			return false
		}
		name, ok := eventName(p.Data)
		return ok && !reservedEvents[name]
	case PacketAck, PacketBinaryAck:
		return firstByte(p.Data) == '[' && p.ID != noID
	}
	return false
}

// eventName returns the first element of a JSON array when it is a string.
func eventName(data []byte) (string, bool) {
	i := bytes.IndexByte(data, '[') + 1
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	if i >= len(data) || data[i] != '"' {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(data[i:]))
	var name string
	if err := dec.Decode(&name); err != nil {
		return "", false
	}
	return name, true
}

// appendHeader appends everything of a packet that precedes its payload.
func appendHeader(dst []byte, t PacketType, attachments int, nsp string, id int64) []byte {
	dst = append(dst, byte(t))
	if t == PacketBinaryEvent || t == PacketBinaryAck {
		dst = strconv.AppendInt(dst, int64(attachments), 10)
		dst = append(dst, '-')
	}
	if nsp != "" && nsp != "/" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if id != noID {
		dst = strconv.AppendInt(dst, id, 10)
	}
	return dst
}

// Binary marks a value to be sent as a binary attachment. A plain []byte
// argument is sent as an attachment too.
type Binary = []byte

// appendArgs appends a JSON array of the event name (if any) and args.
// []byte values become attachment placeholders and are returned in order;
// json.RawMessage values are written as they are, so key order survives.
func appendArgs(dst []byte, event string, args []any, atts [][]byte) ([]byte, [][]byte, error) {
	dst = append(dst, '[')
	first := true
	if event != "" {
		dst = appendJSONString(dst, event)
		first = false
	}
	for _, a := range args {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		var err error
		switch v := a.(type) {
		case json.RawMessage:
			if len(v) == 0 {
				dst = append(dst, "null"...)
			} else {
				dst = append(dst, v...)
			}
		case []byte:
			dst = append(dst, `{"_placeholder":true,"num":`...)
			dst = strconv.AppendInt(dst, int64(len(atts)), 10)
			dst = append(dst, '}')
			atts = append(atts, v)
		case string:
			dst = appendJSONString(dst, v)
		case nil:
			dst = append(dst, "null"...)
		case map[string]any, []any:
			var v2 any
			v2, atts = deconstruct(v, atts)
			dst, err = appendMarshal(dst, v2)
		default:
			dst, err = appendMarshal(dst, v)
		}
		if err != nil {
			return dst, atts, err
		}
	}
	return append(dst, ']'), atts, nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// appendMarshal appends v as JSON without HTML escaping, like JSON.stringify.
func appendMarshal(dst []byte, v any) ([]byte, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way JSON.stringify does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
