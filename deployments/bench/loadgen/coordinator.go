package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"realtime/deployments/bench/loadgen/internal/hist"
	"realtime/deployments/bench/loadgen/internal/procfs"
)

type workerProc struct {
	spec    workerSpec
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	reports chan report
	last    report // the connected report
}

func (wp *workerProc) send(c command) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = wp.stdin.Write(append(b, '\n'))
	return err
}

// await returns the worker's next report of type typ.
func (wp *workerProc) await(typ string, timeout time.Duration) (report, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case r, ok := <-wp.reports:
			if !ok {
				return report{}, fmt.Errorf("worker %d exited (%v)", wp.spec.Index, wp.cmd.Wait())
			}
			if r.Type == "fatal" {
				return report{}, fmt.Errorf("worker %d: %s", wp.spec.Index, r.Error)
			}
			if r.Type == typ {
				return r, nil
			}
		case <-t.C:
			return report{}, fmt.Errorf("worker %d: no %q report within %s", wp.spec.Index, typ, timeout)
		}
	}
}

// split divides n items over k parts as evenly as possible: part i gets
// [from, to).
func split(n, k, i int) (int, int) {
	q, r := n/k, n%k
	from := i*q + min(i, r)
	to := from + q
	if i < r {
		to++
	}
	return from, to
}

func (o *options) plan() []workerSpec {
	subs, pubs := o.subs, o.pubs
	join := "chat:join"
	if o.scenario == "idle" {
		subs, pubs, join = o.conns, 0, "video:join"
	}
	n := o.workers
	if n <= 0 {
		n = (subs + pubs + o.perWorker - 1) / o.perWorker
	}
	n = max(1, n)
	specs := make([]workerSpec, n)
	for i := range specs {
		sf, st := split(subs, n, i)
		pf, pt := split(pubs, n, i)
		specs[i] = workerSpec{
			Index: i, URLs: o.urls, Secret: o.secret, Prefix: o.prefix, Rooms: o.rooms, JoinEvent: join,
			SubFrom: sf, SubTo: st, PubFrom: pf, PubTo: pt,
			Concurrency: o.concurrency, ConnectRate: o.connectRate / float64(n),
			TimeoutMS: int(o.timeout / time.Millisecond), Loops: o.loops,
			LocalFrom: o.localFrom, LocalTo: o.localTo, MsgSize: o.msgSize,
		}
	}
	return specs
}

func startWorker(exe string, spec workerSpec) (*workerProc, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "LOADGEN_WORKER="+string(raw))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	wp := &workerProc{spec: spec, cmd: cmd, stdin: stdin, reports: make(chan report, 16)}
	go func() {
		defer close(wp.reports)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var r report
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				r = report{Type: "fatal", Error: "bad report: " + err.Error()}
			}
			wp.reports <- r
		}
	}()
	return wp, nil
}

// coordinate runs one scenario end to end.
func coordinate(o *options) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	specs := o.plan()
	host, _ := os.Hostname()
	sum := &summary{
		Scenario: o.scenario, Label: o.label, URLs: o.urls, Date: time.Now().UTC().Format(time.RFC3339),
		Host: host, CPUs: runtime.NumCPU(), Workers: len(specs), ServerPIDs: o.serverPIDs, EdgePIDs: o.edgePIDs,
		Rooms: o.rooms,
	}
	if o.scenario == "idle" {
		sum.Conns = o.conns
	} else {
		sum.Subs, sum.Pubs = o.subs, o.pubs
	}
	if len(o.serverPIDs) == 0 {
		fmt.Fprintln(os.Stderr, "loadgen: no -server-pids: server RSS and CPU are not measured")
	}
	if o.scenario == "e2e" && len(o.urls) < 2 {
		fmt.Fprintln(os.Stderr, "loadgen: e2e with one URL: give every edge's URL to spread the clients")
	}

	before := procfs.Read(o.serverPIDs)
	edgesBefore := procfs.Read(o.edgePIDs)
	workers := make([]*workerProc, 0, len(specs))
	defer func() {
		for _, wp := range workers {
			_ = wp.send(command{Cmd: "exit"})
			_ = wp.stdin.Close()
		}
		for _, wp := range workers {
			done := make(chan struct{})
			go func() { _ = wp.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = wp.cmd.Process.Kill()
				<-done
			}
		}
	}()
	for _, spec := range specs {
		wp, err := startWorker(exe, spec)
		if err != nil {
			return err
		}
		workers = append(workers, wp)
	}
	workerPIDs := make([]int, len(workers))
	for i, wp := range workers {
		workerPIDs[i] = wp.cmd.Process.Pid
	}
	loadBefore := procfs.Read(workerPIDs)

	// Connect.
	connHist := hist.Sparse{}
	members := make([]int, o.rooms)
	sum.Connect.FailReasons = map[string]int{}
	var firstDial, lastReady int64
	for _, wp := range workers {
		r, err := wp.await("connected", time.Hour)
		if err != nil {
			return err
		}
		wp.last = r
		sum.Connect.Connected += r.Connected
		sum.Connect.Failed += r.Failed
		for k, v := range r.FailReasons {
			sum.Connect.FailReasons[k] += v
		}
		if r.ConnectHist != nil {
			connHist.Merge(*r.ConnectHist)
		}
		if firstDial == 0 || r.FirstDialNS < firstDial {
			firstDial = r.FirstDialNS
		}
		lastReady = max(lastReady, r.LastReadyNS)
		for i, n := range r.RoomMembers {
			members[i] += n
		}
	}
	connected := procfs.Read(o.serverPIDs)
	edgesConnected := procfs.Read(o.edgePIDs)
	sum.Connect.Attempted = sum.Connect.Connected + sum.Connect.Failed
	if lastReady > firstDial {
		sum.Connect.Seconds = float64(lastReady-firstDial) / 1e9
		sum.Connect.PerSec = float64(sum.Connect.Connected) / sum.Connect.Seconds
	}
	sum.Connect.P50ms = ms(connHist.Quantile(0.5))
	sum.Connect.P99ms = ms(connHist.Quantile(0.99))
	sum.Connect.MaxMs = ms(connHist.Max)
	sum.Server.RSSBeforeMB = mb(before.RSSBytes)
	sum.Server.CPUConnectS = (connected.CPU - before.CPU).Seconds()
	if len(o.edgePIDs) > 0 {
		sum.Edges = &edgeResult{RSSBeforeMB: mb(edgesBefore.RSSBytes), CPUConnectS: (edgesConnected.CPU - edgesBefore.CPU).Seconds()}
	}
	fmt.Fprintf(os.Stderr, "loadgen: %d connected, %d failed in %.2fs\n", sum.Connect.Connected, sum.Connect.Failed, sum.Connect.Seconds)

	switch o.scenario {
	case "idle":
		err = runIdle(o, sum, workers, before, connected, edgesBefore, edgesConnected)
	default:
		err = runFanout(o, sum, workers, members)
	}
	if err != nil {
		return err
	}
	// Errors and drops over the whole run.
	for _, wp := range workers {
		if err := wp.send(command{Cmd: "stats", Step: -1}); err != nil {
			return err
		}
		r, err := wp.await("stats", 30*time.Second)
		if err != nil {
			return err
		}
		sum.ErrorEvents += r.ErrorEvents
		sum.Dropped += r.Dropped
		sum.CountEvents += r.CountEvents
		for _, s := range r.ErrorSamples {
			if len(sum.ErrorSamples) < 5 {
				sum.ErrorSamples = append(sum.ErrorSamples, s)
			}
		}
	}
	sum.LoadgenCPUS = (procfs.Read(workerPIDs).CPU - loadBefore.CPU).Seconds()
	return sum.print(os.Stdout, o.jsonOut)
}

func runIdle(o *options, sum *summary, workers []*workerProc, before, connected, edgesBefore, edgesConnected procfs.Sample) error {
	time.Sleep(o.hold)
	held := procfs.Read(o.serverPIDs)
	edgesHeld := procfs.Read(o.edgePIDs)
	sum.Server.RSSAfterMB = mb(held.RSSBytes)
	sum.Server.CPUHoldS = (held.CPU - connected.CPU).Seconds()
	if sum.Connect.Connected > 0 && len(o.serverPIDs) > 0 {
		sum.Server.RSSPerConnKB = (float64(held.RSSBytes) - float64(before.RSSBytes)) / 1024 / float64(sum.Connect.Connected)
	}
	if e := sum.Edges; e != nil {
		e.RSSAfterMB = mb(edgesHeld.RSSBytes)
		e.CPUHoldS = (edgesHeld.CPU - edgesConnected.CPU).Seconds()
		if sum.Connect.Connected > 0 {
			e.RSSPerConnKB = (float64(edgesHeld.RSSBytes) - float64(edgesBefore.RSSBytes)) / 1024 / float64(sum.Connect.Connected)
		}
	}
	sum.HoldS = o.hold.Seconds()
	// The true membership now: the members still connected (a connection
	// that dropped during the hold has left its room on the server too).
	members := make([]int, o.rooms)
	for _, wp := range workers {
		if err := wp.send(command{Cmd: "members"}); err != nil {
			return err
		}
		r, err := wp.await("members", 30*time.Second)
		if err != nil {
			return err
		}
		for i, n := range r.RoomMembers {
			if i < len(members) {
				members[i] += n
			}
		}
	}
	c := &countResult{Rooms: o.rooms}
	wrong := map[int]bool{}
	for _, wp := range workers {
		if err := wp.send(command{Cmd: "counts", Expected: members}); err != nil {
			return err
		}
		r, err := wp.await("counts", 30*time.Second)
		if err != nil {
			return err
		}
		c.Members += r.Members
		c.ExactMembers += r.ExactMembers
		for _, room := range r.WrongRooms {
			wrong[room] = true
		}
		for _, w := range r.WrongSeen {
			fmt.Fprintf(os.Stderr, "loadgen: viewer count wrong: %s\n", w)
		}
	}
	c.ExactRooms = o.rooms - len(wrong)
	sum.Counts = c
	if gone := append(held.Missing, edgesHeld.Missing...); len(gone) > 0 {
		return fmt.Errorf("server pid(s) %v gone", gone)
	}
	return nil
}

func runFanout(o *options, sum *summary, workers []*workerProc, members []int) error {
	time.Sleep(o.settle)
	totalPubs := 0
	for _, wp := range workers {
		totalPubs += wp.spec.PubTo - wp.spec.PubFrom
	}
	if totalPubs == 0 {
		return errors.New("no publishers")
	}
	subsReady := 0
	for _, n := range members {
		subsReady += n
	}
	for step, rate := range o.rates {
		s0 := procfs.Read(o.serverPIDs)
		for _, wp := range workers {
			share := rate * float64(wp.spec.PubTo-wp.spec.PubFrom) / float64(totalPubs)
			if err := wp.send(command{Cmd: "publish", Step: step, Rate: share, DurationMS: int(o.step / time.Millisecond)}); err != nil {
				return err
			}
		}
		res := stepResult{Step: step, Rate: rate}
		var expected uint64
		var start int64
		var sendNS int64
		for _, wp := range workers {
			r, err := wp.await("published", o.step+time.Minute)
			if err != nil {
				return err
			}
			for room, n := range r.SentByRoom {
				res.Sent += n
				expected += uint64(n) * uint64(members[room])
			}
			res.SendErrors += r.SendErrors
			if start == 0 || (r.StartNS != 0 && r.StartNS < start) {
				start = r.StartNS
			}
			sendNS = max(sendNS, r.SendNS)
		}
		res.Expected = expected
		// Drain: poll until every expected delivery arrived or time is up.
		deadline := time.Now().Add(o.drain)
		var lat hist.Sparse
		var received uint64
		var last int64
		for {
			lat, received, last = hist.Sparse{}, 0, 0
			for _, wp := range workers {
				if err := wp.send(command{Cmd: "stats", Step: step}); err != nil {
					return err
				}
				r, err := wp.await("stats", 30*time.Second)
				if err != nil {
					return err
				}
				received += r.Received
				if r.Latency != nil {
					lat.Merge(*r.Latency)
				}
				last = max(last, r.LastNS)
			}
			if received >= expected || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		s1 := procfs.Read(o.serverPIDs)
		res.Received = received
		res.Lost = int64(expected) - int64(received)
		if expected > 0 {
			res.LossPct = 100 * float64(res.Lost) / float64(expected)
		}
		window := float64(sendNS) / 1e9
		if last > start && float64(last-start)/1e9 > window {
			window = float64(last-start) / 1e9
		}
		if window > 0 {
			res.DeliveriesPerSec = float64(received) / window
		}
		res.WindowS = window
		res.P50ms, res.P90ms = ms(lat.Quantile(0.5)), ms(lat.Quantile(0.9))
		res.P99ms, res.P999ms, res.MaxMs = ms(lat.Quantile(0.99)), ms(lat.Quantile(0.999)), ms(lat.Max)
		if len(o.serverPIDs) > 0 {
			res.ServerCPUS = (s1.CPU - s0.CPU).Seconds()
			if received > 0 {
				res.CPUSPerMillion = res.ServerCPUS / float64(received) * 1e6
			}
			if res.ServerCPUS > 0 {
				res.DeliveriesPerCPUS = float64(received) / res.ServerCPUS
			}
		}
		var why []string
		if res.Lost != 0 {
			why = append(why, fmt.Sprintf("loss %d", res.Lost))
		}
		if res.SendErrors > 0 {
			why = append(why, fmt.Sprintf("%d send errors", res.SendErrors))
		}
		if res.P99ms > float64(o.p99Limit)/float64(time.Millisecond) {
			why = append(why, fmt.Sprintf("p99 %.1f ms > %s", res.P99ms, o.p99Limit))
		}
		res.OK = len(why) == 0 && received > 0
		if received == 0 {
			why = append(why, "nothing delivered")
		}
		res.Stop = strings.Join(why, ", ")
		sum.Steps = append(sum.Steps, res)
		fmt.Fprintf(os.Stderr, "loadgen: step %d: %.0f msg/s → %.0f deliveries/s, loss %d, p99 %.2f ms\n",
			step, rate, res.DeliveriesPerSec, res.Lost, res.P99ms)
		if res.OK {
			best := res
			sum.Best = &best
		} else {
			break
		}
	}
	sum.SubsReady = subsReady
	return nil
}

func ms(us uint64) float64 { return float64(us) / 1000 }
func mb(b uint64) float64  { return float64(b) / (1 << 20) }

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
