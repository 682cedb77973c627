package engineio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

func maskedFrame(op ws.OpCode, fin bool, p []byte) []byte {
	var buf bytes.Buffer
	fr := ws.NewFrame(op, fin, append([]byte(nil), p...))
	fr = ws.MaskFrameInPlace(fr)
	_ = ws.WriteFrame(&buf, fr)
	return buf.Bytes()
}

func frames(fs ...[]byte) []byte { return bytes.Join(fs, nil) }

// describe renders events for comparison.
func describe(evs []wsEvent) string {
	var b bytes.Buffer
	for _, e := range evs {
		fmt.Fprintf(&b, "%d:%q;", e.op, e.data)
	}
	return b.String()
}

// oracle reads in with the blocking frameReader, reporting pings as events
// and the error class.
func oracle(in []byte, max int64) ([]wsEvent, error) {
	fr := frameReader{r: bytes.NewReader(in), max: max}
	var evs []wsEvent
	for {
		op, data, err := fr.next(func(p []byte) {
			evs = append(evs, wsEvent{op: ws.OpPing, data: append([]byte(nil), p...)})
		})
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return evs, nil // the parser simply waits for more
		case errors.Is(err, ws.ErrHeaderLengthMSB):
			return evs, errBadFrame
		case err != nil:
			return evs, err
		}
		evs = append(evs, wsEvent{op: op, data: data})
	}
}

// feedChunks feeds in cut at the given offsets (ascending).
func feedChunks(p *frameParser, max int64, in []byte, cuts ...int) ([]wsEvent, error) {
	var evs []wsEvent
	prev := 0
	for _, c := range append(cuts, len(in)) {
		chunk := append([]byte(nil), in[prev:c]...) // the parser must not keep it
		var err error
		evs, err = p.feed(evs, chunk, max)
		for i := range chunk {
			chunk[i] = 0xAA
		}
		if err != nil {
			return evs, err
		}
		prev = c
	}
	return evs, nil
}

var parserStream = frames(
	maskedFrame(ws.OpText, true, []byte("4hello")),
	maskedFrame(ws.OpText, false, []byte("4he")),
	maskedFrame(ws.OpPing, true, []byte("pi")),
	maskedFrame(ws.OpContinuation, false, nil),
	maskedFrame(ws.OpPong, true, []byte("x")),
	maskedFrame(ws.OpContinuation, true, []byte("llo")),
	maskedFrame(ws.OpBinary, true, bytes.Repeat([]byte{7}, 300)),   // 16-bit length
	maskedFrame(ws.OpText, true, bytes.Repeat([]byte("a"), 70000)), // 64-bit length
	maskedFrame(ws.OpText, true, []byte("2")),
)

func TestFrameParserSplitAtEveryByte(t *testing.T) {
	want, werr := oracle(parserStream, 1<<20)
	if werr != nil || len(want) != 6 {
		t.Fatalf("oracle: %d events, %v", len(want), werr)
	}
	wantS := describe(want)
	// All in one read.
	p := frameParser{}
	got, err := feedChunks(&p, 1<<20, parserStream)
	if err != nil || describe(got) != wantS {
		t.Fatalf("one read: %v\n got %.200s\nwant %.200s", err, describe(got), wantS)
	}
	// Cut once at every offset, and into single bytes.
	for cut := 1; cut < len(parserStream); cut++ {
		if cut > 400 && cut < len(parserStream)-40 && cut%97 != 0 {
			continue // the long frame's middle: a sample is enough
		}
		p := frameParser{}
		got, err := feedChunks(&p, 1<<20, parserStream, cut)
		if err != nil || describe(got) != wantS {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if p.st != nil {
			t.Fatalf("cut at %d: state kept after a complete stream", cut)
		}
	}
	p = frameParser{}
	cuts := make([]int, 0, len(parserStream))
	for i := 1; i < len(parserStream); i++ {
		cuts = append(cuts, i)
	}
	got, err = feedChunks(&p, 1<<20, parserStream, cuts...)
	if err != nil || describe(got) != wantS {
		t.Fatalf("byte by byte: %v", err)
	}
}

func TestFrameParserKeepsNothingWhenIdle(t *testing.T) {
	p := frameParser{}
	in := frames(maskedFrame(ws.OpText, true, []byte("4a")), maskedFrame(ws.OpText, true, []byte("4b")))
	evs, err := p.feed(nil, in, 100)
	if err != nil || len(evs) != 2 || string(evs[0].data) != "4a" || string(evs[1].data) != "4b" {
		t.Fatalf("got %s, %v", describe(evs), err)
	}
	if p.st != nil {
		t.Fatal("buffers kept between complete frames")
	}
	// Delivered data does not alias the input.
	copy(in, bytes.Repeat([]byte{0}, len(in)))
	if string(evs[0].data) != "4a" {
		t.Fatal("event aliases the read buffer")
	}
}

func TestFrameParserErrors(t *testing.T) {
	big := maskedFrame(ws.OpText, true, bytes.Repeat([]byte("a"), 101))
	unmasked := []byte{0x81, 0x01, 'x'}
	rsv := maskedFrame(ws.OpText, true, []byte("4a"))
	rsv[0] |= 0x40
	longPing := maskedFrame(ws.OpPing, true, bytes.Repeat([]byte("a"), 126))
	fragPing := maskedFrame(ws.OpPing, false, nil)
	msb := []byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}
	for name, tc := range map[string]struct {
		in   []byte
		want error
		evs  int
	}{
		"oversize":              {big, errFrameTooBig, 0},
		"oversize fragments":    {frames(maskedFrame(ws.OpText, false, bytes.Repeat([]byte("a"), 60)), maskedFrame(ws.OpContinuation, true, bytes.Repeat([]byte("a"), 41))), errFrameTooBig, 0},
		"oversize header only":  {big[:6], errFrameTooBig, 0},
		"unmasked":              {unmasked, errBadFrame, 0},
		"rsv":                   {rsv, errBadFrame, 0},
		"long control":          {longPing, errBadFrame, 0},
		"fragmented control":    {fragPing, errBadFrame, 0},
		"length msb":            {msb, errBadFrame, 0},
		"continuation first":    {maskedFrame(ws.OpContinuation, true, []byte("x")), errBadFrame, 0},
		"text inside fragments": {frames(maskedFrame(ws.OpText, false, []byte("4")), maskedFrame(ws.OpText, true, []byte("x"))), errBadFrame, 0},
		"reserved opcode":       {maskedFrame(ws.OpCode(3), true, nil), errBadFrame, 0},
		"close after message":   {frames(maskedFrame(ws.OpText, true, []byte("4a")), maskedFrame(ws.OpClose, true, nil)), errPeerClosed, 1},
	} {
		for cut := 0; cut <= len(tc.in); cut++ {
			p := frameParser{}
			var cuts []int
			if cut > 0 && cut < len(tc.in) {
				cuts = []int{cut}
			}
			evs, err := feedChunks(&p, 100, tc.in, cuts...)
			if !errors.Is(err, tc.want) || len(evs) != tc.evs {
				t.Fatalf("%s (cut %d): %d events, err %v; want %v", name, cut, len(evs), err, tc.want)
			}
		}
	}
}

func TestFrameParserControlBetweenFragments(t *testing.T) {
	in := frames(
		maskedFrame(ws.OpBinary, false, []byte{1}),
		maskedFrame(ws.OpPing, true, []byte("a")),
		maskedFrame(ws.OpContinuation, false, []byte{2}),
		maskedFrame(ws.OpPing, true, nil),
		maskedFrame(ws.OpContinuation, true, []byte{3}),
	)
	for cut := 0; cut < len(in); cut++ {
		p := frameParser{}
		evs, err := feedChunks(&p, 100, in, cut)
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(evs); got != describe([]wsEvent{{ws.OpPing, []byte("a")}, {ws.OpPing, nil}, {ws.OpBinary, []byte{1, 2, 3}}}) {
			t.Fatalf("cut %d: %s", cut, got)
		}
	}
}

func BenchmarkFrameParser(b *testing.B) {
	in := frames(maskedFrame(ws.OpText, true, []byte(`42["progress",{"videoId":"v1","timestamp":12.5}]`)))
	buf := make([]byte, len(in))
	var evs []wsEvent
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, in)
		p := frameParser{}
		evs, _ = p.feed(evs[:0], buf, 1<<20)
	}
}

func FuzzFrameParser(f *testing.F) {
	f.Add(parserStream[:200], uint8(3))
	f.Add(maskedFrame(ws.OpText, true, []byte("4hello")), uint8(1))
	f.Add(frames(maskedFrame(ws.OpText, false, []byte("4he")), maskedFrame(ws.OpPing, true, []byte("x")), maskedFrame(ws.OpContinuation, true, []byte("llo"))), uint8(5))
	f.Add(maskedFrame(ws.OpClose, true, nil), uint8(0))
	f.Add(maskedFrame(ws.OpBinary, true, bytes.Repeat([]byte{1}, 200)), uint8(7))
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		const max = 1 << 12
		want, werr := oracle(in, max)
		p := frameParser{}
		var cuts []int
		if step > 0 {
			for c := int(step); c < len(in); c += int(step) {
				cuts = append(cuts, c)
			}
		}
		got, err := feedChunks(&p, max, in, cuts...)
		if !errors.Is(err, werr) && !(werr == nil && err == nil) {
			t.Fatalf("error %v, frameReader says %v", err, werr)
		}
		if describe(got) != describe(want) {
			t.Fatalf("events differ:\n got %.300s\nwant %.300s", describe(got), describe(want))
		}
		for _, e := range got {
			if len(e.data) > max {
				t.Fatalf("message of %d bytes over max", len(e.data))
			}
		}
	})
}
