package main

import (
	"realtime/deployments/bench/loadgen/internal/hist"
)

// The coordinator and its workers talk in JSON lines: commands on the
// worker's stdin, reports on its stdout (stderr is passed through for logs).

// workerSpec is a worker's whole assignment, given in $LOADGEN_WORKER.
type workerSpec struct {
	Index       int      `json:"index"`
	URLs        []string `json:"urls"`
	Secret      string   `json:"secret"`
	Prefix      string   `json:"prefix"`
	Rooms       int      `json:"rooms"`
	JoinEvent   string   `json:"join_event"`
	SubFrom     int      `json:"sub_from"` // global subscriber indices [SubFrom, SubTo)
	SubTo       int      `json:"sub_to"`
	PubFrom     int      `json:"pub_from"` // global publisher indices [PubFrom, PubTo)
	PubTo       int      `json:"pub_to"`
	Concurrency int      `json:"concurrency"`  // handshakes in flight
	ConnectRate float64  `json:"connect_rate"` // this worker's share, per second; 0 = unpaced
	TimeoutMS   int      `json:"timeout_ms"`   // handshake timeout
	Loops       int      `json:"loops"`
	LocalFrom   int      `json:"local_from"` // last octet of 127.0.0.x; 0 = no bind
	LocalTo     int      `json:"local_to"`
	MsgSize     int      `json:"msg_size"`
}

type command struct {
	Cmd        string  `json:"cmd"` // publish | stats | members | counts | exit
	Step       int     `json:"step,omitempty"`
	Rate       float64 `json:"rate,omitempty"` // this worker's messages/s
	DurationMS int     `json:"duration_ms,omitempty"`
	Expected   []int   `json:"expected,omitempty"` // counts: members per room
}

type report struct {
	Type string `json:"type"` // connected | published | stats | members | counts | fatal
	Step int    `json:"step,omitempty"`

	// connected
	Connected   int            `json:"connected,omitempty"`
	Failed      int            `json:"failed,omitempty"`
	FailReasons map[string]int `json:"fail_reasons,omitempty"`
	ConnectHist *hist.Sparse   `json:"connect_hist,omitempty"`
	FirstDialNS int64          `json:"first_dial_ns,omitempty"`
	LastReadyNS int64          `json:"last_ready_ns,omitempty"`
	RoomMembers []int          `json:"room_members,omitempty"` // subscribers ready per room (also members)

	// published
	SentByRoom []int `json:"sent_by_room,omitempty"`
	SendErrors int   `json:"send_errors,omitempty"`
	SendNS     int64 `json:"send_ns,omitempty"` // wall time the sending took
	StartNS    int64 `json:"start_ns,omitempty"`

	// stats
	Received     uint64       `json:"received,omitempty"`
	Latency      *hist.Sparse `json:"latency,omitempty"`
	LastNS       int64        `json:"last_ns,omitempty"` // last delivery of the step
	ErrorEvents  uint64       `json:"error_events,omitempty"`
	ErrorSamples []string     `json:"error_samples,omitempty"`
	CountEvents  uint64       `json:"count_events,omitempty"`
	Dropped      uint64       `json:"dropped,omitempty"` // ready connections that closed

	// counts
	Members      int   `json:"members,omitempty"`
	ExactMembers int   `json:"exact_members,omitempty"`
	WrongRooms   []int `json:"wrong_rooms,omitempty"`
	// WrongSeen: for a few wrong rooms, "room: expected N, seen count×members …".
	WrongSeen []string `json:"wrong_seen,omitempty"`

	// fatal
	Error string `json:"error,omitempty"`
}
