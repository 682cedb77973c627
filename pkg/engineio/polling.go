package engineio

import (
	"errors"
	"io"
	"net/http"
)

// openPolling answers a polling handshake with the open packet.
func (srv *Server) openPolling(w http.ResponseWriter, r *http.Request) {
	s, open := srv.newSession(r, transportPolling)
	srv.begin(s)
	writePayload(w, open)
}

func writePayload(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// servePoll parks a GET until there is something to send, then sends every
// queued packet as one payload.
func (srv *Server) servePoll(w http.ResponseWriter, r *http.Request, s *Session) {
	s.mu.Lock()
	done := s.checkPongLocked()
	if s.transport != transportPolling || (s.closed && len(s.queue) == 0) {
		s.mu.Unlock()
		if done != nil {
			done()
		}
		srv.fail(w, http.StatusBadRequest, errBadRequest)
		return
	}
	// On polling, s.x is set. The upgrade may drop it while this GET
	// waits: it keeps its own pointer.
	x := s.x
	if x.pollWaiting {
		// Two GETs at once: the protocol treats it as a broken client.
		s.mu.Unlock()
		s.close(ReasonOverlap, closeMessage)
		srv.fail(w, http.StatusBadRequest, errBadRequest)
		return
	}
	x.pollWaiting = true
	for {
		switch {
		case x.releasePoll:
			// The client is switching to WebSocket: let go of this GET.
			x.releasePoll = false
			x.pollWaiting = false
			s.mu.Unlock()
			writePayload(w, []byte{byte(PacketNoop)})
			return
		case s.transport != transportPolling:
			// Upgraded while this GET waited: polling is over.
			x.pollWaiting = false
			s.mu.Unlock()
			srv.fail(w, http.StatusBadRequest, errBadRequest)
			return
		case len(s.queue) > 0:
			batch := s.takeQueueLocked()
			x.pollWaiting = false
			if s.closed && x.linger != nil {
				x.linger.Stop()
				srv.remove(s) // the final packet is collected
			}
			s.mu.Unlock()
			writePayload(w, encodePayload(batch))
			srv.stats.PacketsOut.Add(int64(len(batch)))
			return
		case s.closed:
			x.pollWaiting = false
			s.mu.Unlock()
			writePayload(w, []byte{byte(PacketClose)})
			return
		}
		s.mu.Unlock()
		select {
		case <-x.pollWake:
		case <-r.Context().Done():
			s.mu.Lock()
			x.pollWaiting = false
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
	}
}

// handlePayload applies a POSTed payload; overlapping POSTs of one session
// are applied one after the other, in arrival order. x is the session's
// extra state, taken when the POST was accepted: an upgrade completed
// meanwhile may have dropped s.x.
func (s *Session) handlePayload(x *sessionExtra, body []byte) error {
	x.readMu.Lock()
	defer x.readMu.Unlock()
	return DecodePayload(body, s.handlePacket)
}

func encodePayload(batch []*Message) []byte {
	n := len(batch) - 1
	for _, m := range batch {
		n += m.pollingLen()
	}
	b := make([]byte, 0, n)
	for i, m := range batch {
		if i > 0 {
			b = append(b, recordSeparator)
		}
		b = m.appendPolling(b)
	}
	return b
}

// serveData handles a POST carrying a payload from the client.
func (srv *Server) serveData(w http.ResponseWriter, r *http.Request, s *Session) {
	s.mu.Lock()
	done := s.checkPongLocked()
	refuse := s.transport != transportPolling || s.closed
	x := s.x // set on polling; kept for handlePayload (see there)
	s.mu.Unlock()
	if done != nil {
		done()
	}
	if refuse {
		srv.fail(w, http.StatusBadRequest, errBadRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(srv.cfg.MaxPayload)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			srv.stats.Errors.Add(1)
			s.close(ReasonParseError, closeMessage)
			w.Header().Set("Connection", "close")
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		srv.fail(w, http.StatusBadRequest, errBadRequest)
		return
	}
	srv.stats.BytesIn.Add(int64(len(body)))
	err = s.handlePayload(x, body)
	if err != nil {
		srv.stats.Errors.Add(1)
		reason := ReasonParseError
		if errors.Is(err, errHandlerPanic) {
			reason = ReasonHandlerError
		} else {
			srv.cfg.Logger.Debug("engineio: invalid payload", "sid", s.id, "err", err)
		}
		s.close(reason, closeMessage)
		srv.fail(w, http.StatusBadRequest, errBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}
