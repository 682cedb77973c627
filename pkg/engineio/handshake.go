package engineio

import (
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
)

// keptHeaders are the request headers a session keeps.
var keptHeaders = [...]string{"Origin", "User-Agent", "X-Forwarded-For", "X-Real-Ip", "Forwarded"}

// Fields of a handshake, in the order they are stored.
const (
	hsRemoteAddr = iota
	hsHost
	hsPath
	hsRawQuery
	hsHeaders // then one per keptHeaders
	hsFields  = hsHeaders + len(keptHeaders)
)

// handshakeInfo is what a session keeps of the request that opened it: its
// fields, each prefixed with its length, in one string. A struct of nine
// strings cost 144 bytes per session before any text, and the strings it
// held kept whole request lines alive; this is one allocation the size of
// the text. Read only by Request, which is rare.
type handshakeInfo string

func newHandshake(r *http.Request) handshakeInfo {
	var fields [hsFields]string
	fields[hsRemoteAddr] = r.RemoteAddr
	fields[hsHost] = r.Host
	fields[hsPath] = r.URL.Path
	fields[hsRawQuery] = r.URL.RawQuery
	n := 0
	for i, k := range keptHeaders {
		fields[hsHeaders+i] = r.Header.Get(k)
	}
	var lens [hsFields][binary.MaxVarintLen64]byte
	var lensLen [hsFields]int
	for i, f := range fields {
		lensLen[i] = binary.PutUvarint(lens[i][:], uint64(len(f)))
		n += lensLen[i] + len(f)
	}
	var b strings.Builder // String() then shares its one allocation
	b.Grow(n)
	for i, f := range fields {
		b.Write(lens[i][:lensLen[i]])
		b.WriteString(f)
	}
	return handshakeInfo(b.String())
}

// fields splits h back into its fields.
func (h handshakeInfo) fields() (out [hsFields]string) {
	s := string(h)
	for i := range out {
		n, w := binary.Uvarint([]byte(s))
		if w <= 0 || uint64(len(s)-w) < n {
			return out // cannot happen: h is only made by newHandshake
		}
		out[i], s = s[w:w+int(n)], s[w+int(n):]
	}
	return out
}

func (h handshakeInfo) request() *http.Request {
	f := h.fields()
	hdr := make(http.Header, len(keptHeaders))
	for i, k := range keptHeaders {
		if v := f[hsHeaders+i]; v != "" {
			hdr[k] = []string{v}
		}
	}
	u := &url.URL{Path: f[hsPath], RawQuery: f[hsRawQuery]}
	return &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     hdr,
		Host:       f[hsHost],
		RemoteAddr: f[hsRemoteAddr],
		RequestURI: u.RequestURI(),
	}
}
