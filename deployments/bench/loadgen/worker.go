package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"realtime/deployments/bench/loadgen/internal/hist"
	"realtime/deployments/bench/loadgen/internal/jwt"
	"realtime/deployments/bench/loadgen/internal/sio"
)

// maxSteps bounds the rate steps of one fanout run (per-step counters are
// preallocated so the receive path never allocates or locks).
const maxSteps = 64

const (
	tagSub uint8 = iota
	tagPub
)

// tokenTTL covers any run.
const tokenTTL = 24 * time.Hour

type stepStats struct {
	received atomic.Uint64
	last     atomic.Int64
	lat      hist.Histogram
}

// worker holds one process's share of the connections.
type worker struct {
	spec workerSpec
	eng  *sio.Engine

	subs     []sio.Conn
	pubs     []sio.Conn
	subReady []atomic.Bool
	pubReady []atomic.Bool
	sem      chan struct{}

	connected   atomic.Int64
	failed      atomic.Int64
	connectHist hist.Histogram
	lastReady   atomic.Int64
	roomMembers []atomic.Int32

	steps       [maxSteps]stepStats
	errorEvents atomic.Uint64
	countEvents atomic.Uint64
	dropped     atomic.Uint64

	mu          sync.Mutex
	failReasons map[string]int
	errSamples  []string

	outMu sync.Mutex
	out   *json.Encoder
}

func workerMain(raw string) error {
	var spec workerSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return fmt.Errorf("worker spec: %w", err)
	}
	if spec.Rooms < 1 || len(spec.URLs) == 0 {
		return errors.New("worker spec: no rooms or no URLs")
	}
	if spec.Loops <= 0 {
		spec.Loops = runtime.GOMAXPROCS(0)
	}
	w := &worker{
		spec:        spec,
		subs:        make([]sio.Conn, spec.SubTo-spec.SubFrom),
		pubs:        make([]sio.Conn, spec.PubTo-spec.PubFrom),
		subReady:    make([]atomic.Bool, spec.SubTo-spec.SubFrom),
		pubReady:    make([]atomic.Bool, spec.PubTo-spec.PubFrom),
		sem:         make(chan struct{}, max(1, spec.Concurrency)),
		roomMembers: make([]atomic.Int32, spec.Rooms),
		failReasons: map[string]int{},
		out:         json.NewEncoder(os.Stdout),
	}
	eng, err := sio.New(sio.Config{Loops: spec.Loops, HandshakeTimeout: time.Duration(spec.TimeoutMS) * time.Millisecond}, w)
	if err != nil {
		return err
	}
	w.eng = eng
	defer eng.Close()
	if dir := os.Getenv("LOADGEN_CPUPROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker-%d.pprof", spec.Index)))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	targets := make([]*sio.Target, len(spec.URLs))
	for i, u := range spec.URLs {
		if targets[i], err = sio.ParseTarget(u); err != nil {
			return err
		}
	}
	w.emit(w.connectAll(targets))

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		var cmd command
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			return fmt.Errorf("command: %w", err)
		}
		switch cmd.Cmd {
		case "publish":
			w.emit(w.publish(cmd))
		case "stats":
			w.emit(w.stats(cmd.Step))
		case "members":
			w.emit(w.members())
		case "counts":
			w.emit(w.counts(cmd.Expected))
		case "exit":
			return nil
		default:
			return fmt.Errorf("unknown command %q", cmd.Cmd)
		}
	}
	return in.Err() // EOF: the coordinator is gone
}

func (w *worker) emit(r report) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	if err := w.out.Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen worker: stdout:", err)
		os.Exit(1)
	}
}

func (w *worker) videoID(room int) string {
	return w.spec.Prefix + "-" + strconv.Itoa(room)
}

// connectAll opens every connection of the worker, at most Concurrency
// handshakes at a time and at ConnectRate per second, and waits until each
// one is ready or failed.
func (w *worker) connectAll(targets []*sio.Target) report {
	s := &w.spec
	signer := jwt.NewSigner(s.Secret)
	nSubs, nPubs := len(w.subs), len(w.pubs)
	total := nSubs + nPubs
	first := time.Now()
	var spec sio.Spec
	for k := 0; k < total; k++ {
		w.sem <- struct{}{}
		if s.ConnectRate > 0 {
			if d := time.Until(first.Add(time.Duration(float64(k) / s.ConnectRate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		var c *sio.Conn
		var global int
		var user string
		if k < nSubs {
			global = s.SubFrom + k
			c = &w.subs[k]
			c.ID, c.Room, c.Tag = int32(k), int32(global%s.Rooms), tagSub
			user = "bench-" + s.Prefix + "-s" + strconv.Itoa(global)
			spec.JoinEvent = s.JoinEvent
			spec.JoinArgs = `{"videoId":` + strconv.Quote(w.videoID(int(c.Room))) + `}`
		} else {
			global = s.PubFrom + k - nSubs
			c = &w.pubs[k-nSubs]
			c.ID, c.Room, c.Tag = int32(k-nSubs), int32(global%s.Rooms), tagPub
			user = "bench-" + s.Prefix + "-p" + strconv.Itoa(global)
			spec.JoinEvent, spec.JoinArgs = "", ""
		}
		spec.Target = targets[global%len(targets)]
		spec.Local = [4]byte{}
		if s.LocalFrom > 0 {
			spec.Local = [4]byte{127, 0, 0, byte(s.LocalFrom + global%(s.LocalTo-s.LocalFrom+1))}
		}
		spec.Token = ""
		if s.Secret != "" {
			spec.Token = signer.Sign(user, time.Now(), tokenTTL)
		}
		if err := w.eng.Dial(c, &spec); err != nil {
			w.noteFailure("dial: " + short(err))
			<-w.sem
		}
	}
	for w.connected.Load()+w.failed.Load() < int64(total) {
		time.Sleep(10 * time.Millisecond)
	}
	members := make([]int, len(w.roomMembers))
	for i := range w.roomMembers {
		members[i] = int(w.roomMembers[i].Load())
	}
	ch := w.connectHist.Snapshot()
	w.mu.Lock()
	reasons := make(map[string]int, len(w.failReasons))
	for k, v := range w.failReasons {
		reasons[k] = v
	}
	w.mu.Unlock()
	return report{
		Type:        "connected",
		Connected:   int(w.connected.Load()),
		Failed:      int(w.failed.Load()),
		FailReasons: reasons,
		ConnectHist: &ch,
		FirstDialNS: first.UnixNano(),
		LastReadyNS: w.lastReady.Load(),
		RoomMembers: members,
	}
}

// short shortens an error to something that aggregates well.
func short(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

func (w *worker) noteFailure(reason string) {
	w.failed.Add(1)
	w.mu.Lock()
	w.failReasons[reason]++
	w.mu.Unlock()
}

// Ready implements sio.Handler.
func (w *worker) Ready(c *sio.Conn, _ int, elapsed time.Duration) {
	w.connectHist.Record(uint64(elapsed.Microseconds()))
	if c.Tag == tagSub {
		w.subReady[c.ID].Store(true)
		w.roomMembers[c.Room].Add(1)
	} else {
		w.pubReady[c.ID].Store(true)
	}
	now := time.Now().UnixNano()
	for {
		l := w.lastReady.Load()
		if now <= l || w.lastReady.CompareAndSwap(l, now) {
			break
		}
	}
	w.connected.Add(1)
	<-w.sem
}

// Failed implements sio.Handler.
func (w *worker) Failed(_ *sio.Conn, _ int, stage string, err error) {
	w.noteFailure(stage + ": " + short(err))
	<-w.sem
}

// Closed implements sio.Handler.
func (w *worker) Closed(c *sio.Conn, _ int, err error) {
	w.dropped.Add(1)
	if c.Tag == tagSub {
		w.subReady[c.ID].Store(false)
	} else {
		w.pubReady[c.ID].Store(false)
	}
	w.mu.Lock()
	if len(w.errSamples) < 5 {
		w.errSamples = append(w.errSamples, "closed: "+err.Error())
	}
	w.mu.Unlock()
}

var (
	benchMarker = []byte(`"bench `)
	countMarker = []byte(`"count":`)
)

// Event implements sio.Handler: the receive hot path.
func (w *worker) Event(c *sio.Conn, _ int, name, args []byte) {
	switch string(name) {
	case "chat:message":
		w.delivery(args)
	case "video:viewers", "chat:user-count":
		w.countEvents.Add(1)
		if i := bytes.Index(args, countMarker); i >= 0 {
			if n, _, ok := parseUint(args[i+len(countMarker):]); ok {
				c.Last.Store(int64(n))
			}
		}
	case "error":
		w.errorEvents.Add(1)
		w.mu.Lock()
		if len(w.errSamples) < 5 {
			w.errSamples = append(w.errSamples, string(args))
		}
		w.mu.Unlock()
	}
}

// delivery records a chat message whose text is "bench <step> <unix ns> …".
func (w *worker) delivery(args []byte) {
	i := bytes.Index(args, benchMarker)
	if i < 0 {
		return
	}
	p := args[i+len(benchMarker):]
	step, p, ok := parseUint(p)
	if !ok || step >= maxSteps || len(p) == 0 || p[0] != ' ' {
		return
	}
	sent, _, ok := parseUint(p[1:])
	if !ok {
		return
	}
	now := time.Now().UnixNano()
	st := &w.steps[step]
	st.received.Add(1)
	var us uint64
	if d := now - int64(sent); d > 0 {
		us = uint64(d / 1000)
	}
	st.lat.Record(us)
	if now > st.last.Load() {
		st.last.Store(now)
	}
}

func parseUint(p []byte) (uint64, []byte, bool) {
	var n uint64
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		n = n*10 + uint64(p[i]-'0')
		i++
	}
	return n, p[i:], i > 0
}

// publish sends cmd.Rate messages/s over the worker's ready publishers for
// cmd.DurationMS, each stamped with the step and its send time.
func (w *worker) publish(cmd command) report {
	r := report{Type: "published", Step: cmd.Step, SentByRoom: make([]int, w.spec.Rooms)}
	var pubs []*sio.Conn
	for i := range w.pubs {
		if w.pubReady[i].Load() {
			pubs = append(pubs, &w.pubs[i])
		}
	}
	start := time.Now()
	r.StartNS = start.UnixNano()
	if len(pubs) == 0 || cmd.Rate <= 0 {
		return r
	}
	total := int(math.Round(cmd.Rate * float64(cmd.DurationMS) / 1000))
	pad := make([]byte, max(0, w.spec.MsgSize))
	for i := range pad {
		pad[i] = 'x'
	}
	prefixes := make([][]byte, w.spec.Rooms)
	for room := range prefixes {
		prefixes[room] = []byte(`42["chat:message",{"videoId":` + strconv.Quote(w.videoID(room)) + `,"message":"bench ` + strconv.Itoa(cmd.Step) + " ")
	}
	var payload, frame []byte
	sent := 0
	for sent < total {
		due := min(total, int(time.Since(start).Seconds()*cmd.Rate)+1)
		for ; sent < due; sent++ {
			c := pubs[sent%len(pubs)]
			payload = append(payload[:0], prefixes[c.Room]...)
			payload = strconv.AppendInt(payload, time.Now().UnixNano(), 10)
			if len(pad) > 0 {
				payload = append(payload, ' ')
				payload = append(payload, pad...)
			}
			payload = append(payload, `"}]`...)
			frame = sio.AppendText(frame[:0], payload)
			if err := c.Send(frame); err != nil {
				r.SendErrors++
				continue
			}
			r.SentByRoom[c.Room]++
		}
		if sent < total {
			next := start.Add(time.Duration(float64(sent) / cmd.Rate * float64(time.Second)))
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
	}
	r.SendNS = int64(time.Since(start))
	return r
}

func (w *worker) stats(step int) report {
	r := report{Type: "stats", Step: step}
	if step >= 0 && step < maxSteps {
		st := &w.steps[step]
		r.Received = st.received.Load()
		lat := st.lat.Snapshot()
		r.Latency = &lat
		r.LastNS = st.last.Load()
	}
	r.ErrorEvents = w.errorEvents.Load()
	r.CountEvents = w.countEvents.Load()
	r.Dropped = w.dropped.Load()
	w.mu.Lock()
	r.ErrorSamples = append([]string(nil), w.errSamples...)
	w.mu.Unlock()
	return r
}

// members reports how many ready subscribers each room has now.
func (w *worker) members() report {
	r := report{Type: "members", RoomMembers: make([]int, w.spec.Rooms)}
	for i := range w.subs {
		if w.subReady[i].Load() {
			if room := int(w.subs[i].Room); room < len(r.RoomMembers) {
				r.RoomMembers[room]++
			}
		}
	}
	return r
}

// counts compares the last count every ready subscriber saw with the number
// of members its room should have.
func (w *worker) counts(expected []int) report {
	r := w.stats(-1)
	r.Type = "counts"
	wrong := map[int]map[int64]int{} // room → last count seen → members
	for i := range w.subs {
		if !w.subReady[i].Load() {
			continue
		}
		c := &w.subs[i]
		r.Members++
		if int(c.Room) < len(expected) && c.Last.Load() == int64(expected[c.Room]) {
			r.ExactMembers++
			continue
		}
		if wrong[int(c.Room)] == nil {
			wrong[int(c.Room)] = map[int64]int{}
		}
		wrong[int(c.Room)][c.Last.Load()]++
	}
	for room, seen := range wrong {
		r.WrongRooms = append(r.WrongRooms, room)
		if len(r.WrongSeen) < 3 && room < len(expected) {
			r.WrongSeen = append(r.WrongSeen, fmt.Sprintf("room %d: expected %d, seen %s", room, expected[room], seenSummary(seen)))
		}
	}
	return r
}

// seenSummary lists the most common last counts: "count×members, …".
func seenSummary(seen map[int64]int) string {
	type kv struct {
		count   int64
		members int
	}
	var all []kv
	for c, n := range seen {
		all = append(all, kv{c, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].members > all[j].members })
	var b strings.Builder
	for i, e := range all {
		if i == 4 {
			fmt.Fprintf(&b, ", … (%d values)", len(all))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d×%d", e.count, e.members)
	}
	return b.String()
}
