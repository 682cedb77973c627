// Command loadgen measures a Socket.IO server (ours or the Node reference)
// with a lean WebSocket-only client of its own (internal/sio).
//
//	loadgen -scenario idle   -url http://127.0.0.1:4200 -conns 2000 -rooms 20 -hold 20s -server-pids 1234
//	loadgen -scenario fanout -url http://127.0.0.1:4200 -subs 1000 -rooms 1 -pubs 2 -rates 10,20,50
//	loadgen -scenario e2e    -url http://127.0.0.1:4101,http://127.0.0.1:4102 -subs 5000 -rates 20
//	loadgen compare -names node,go node.json go.json [node2.json go2.json …]
//
// The process given the flags is the coordinator: it forks worker processes
// of itself (each below the 20,000 file descriptors a process may hold here),
// hands each its share of the connections in $LOADGEN_WORKER, drives the
// scenario over their stdin and aggregates the JSON lines they print. It
// samples the server processes in /proc, prints a table and, as its last
// line, a one-line JSON summary.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type options struct {
	scenario    string
	label       string
	urls        []string
	secret      string
	serverPIDs  []int
	edgePIDs    []int
	conns       int
	rooms       int
	hold        time.Duration
	subs        int
	pubs        int
	rates       []float64
	step        time.Duration
	drain       time.Duration
	settle      time.Duration
	p99Limit    time.Duration
	msgSize     int
	workers     int
	perWorker   int
	concurrency int
	connectRate float64
	timeout     time.Duration
	loops       int
	localFrom   int
	localTo     int
	prefix      string
	jsonOut     string
}

func main() {
	if raw, ok := os.LookupEnv("LOADGEN_WORKER"); ok {
		if err := workerMain(raw); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen worker:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "compare" {
		if err := compareMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen compare:", err)
			os.Exit(2)
		}
		return
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if err := coordinate(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	o := &options{}
	var urls, pids, edgePIDs, rates, local string
	fs.StringVar(&o.scenario, "scenario", "idle", "idle | fanout | e2e")
	fs.StringVar(&o.label, "label", "", "name of the target in reports (default: the URLs)")
	fs.StringVar(&urls, "url", "http://127.0.0.1:4100", "server URL(s), comma separated; connections are spread round-robin")
	fs.StringVar(&o.secret, "secret", os.Getenv("JWT_SECRET"), "HS256 secret for the tokens (default $JWT_SECRET; empty = anonymous)")
	fs.StringVar(&pids, "server-pids", "", "comma separated PIDs of the server processes to sample (RSS, CPU)")
	fs.StringVar(&edgePIDs, "edge-pids", "", "comma separated PIDs of the edges among them: their RSS and CPU are also reported on their own")
	fs.IntVar(&o.conns, "conns", 1000, "idle: connections")
	fs.IntVar(&o.rooms, "rooms", 10, "rooms (idle: video rooms; fanout/e2e: chat rooms)")
	fs.DurationVar(&o.hold, "hold", 10*time.Second, "idle: how long the connections are held after the last one connected")
	fs.IntVar(&o.subs, "subs", 1000, "fanout/e2e: subscribers")
	fs.IntVar(&o.pubs, "pubs", 1, "fanout/e2e: publishers (one room each, round-robin)")
	fs.StringVar(&rates, "rates", "", "fanout/e2e: total messages/s of each step, comma separated (default 10,20,50,100,200,500,1000; e2e: 20)")
	fs.DurationVar(&o.step, "step", 5*time.Second, "fanout/e2e: duration of a rate step")
	fs.DurationVar(&o.drain, "drain", 3*time.Second, "fanout/e2e: how long after a step deliveries may still arrive")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "fanout/e2e: pause between connecting and the first step")
	fs.DurationVar(&o.p99Limit, "p99-limit", 100*time.Millisecond, "fanout/e2e: a step whose p99 exceeds this ends the run")
	fs.IntVar(&o.msgSize, "msg-size", 0, "fanout/e2e: bytes of padding added to each message text")
	fs.IntVar(&o.workers, "workers", 0, "worker processes (0: enough for -per-worker)")
	fs.IntVar(&o.perWorker, "per-worker", 18000, "most connections per worker (a process holds < 20,000 fds here)")
	fs.IntVar(&o.concurrency, "concurrency", 256, "handshakes in flight per worker")
	fs.Float64Var(&o.connectRate, "connect-rate", 0, "total connections/s (0: as fast as -concurrency allows)")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Second, "handshake timeout (dial to join ack)")
	fs.IntVar(&o.loops, "loops", 0, "event loops per worker (0: GOMAXPROCS)")
	fs.StringVar(&local, "local", "127.0.0.2-127.0.0.250", "source addresses, a 127.0.0.x range; \"none\" lets the kernel choose")
	fs.StringVar(&o.prefix, "prefix", "", "room id prefix (default: b<unix time>, so runs never share rooms)")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the JSON summary to this file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch o.scenario {
	case "idle", "fanout", "e2e":
	default:
		return nil, fmt.Errorf("unknown scenario %q", o.scenario)
	}
	for _, u := range strings.Split(urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			o.urls = append(o.urls, u)
		}
	}
	if len(o.urls) == 0 {
		return nil, fmt.Errorf("no -url")
	}
	if o.label == "" {
		o.label = strings.Join(o.urls, ",")
	}
	var err error
	if o.serverPIDs, err = parsePIDs(pids); err != nil {
		return nil, err
	}
	if o.edgePIDs, err = parsePIDs(edgePIDs); err != nil {
		return nil, err
	}
	if rates == "" {
		rates = "10,20,50,100,200,500,1000"
		if o.scenario == "e2e" {
			rates = "20"
		}
	}
	for _, r := range strings.Split(rates, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("bad rate %q", r)
		}
		o.rates = append(o.rates, f)
	}
	if len(o.rates) > maxSteps {
		return nil, fmt.Errorf("at most %d rate steps", maxSteps)
	}
	if local != "none" {
		from, to, ok := strings.Cut(local, "-")
		a, err1 := lastOctet(from)
		b, err2 := lastOctet(to)
		if !ok || err1 != nil || err2 != nil || a < 1 || b < a || b > 254 {
			return nil, fmt.Errorf("bad -local %q (want 127.0.0.A-127.0.0.B)", local)
		}
		o.localFrom, o.localTo = a, b
	}
	if o.rooms < 1 || o.perWorker < 1 || o.perWorker > 19500 {
		return nil, fmt.Errorf("-rooms must be ≥ 1 and -per-worker in 1..19500")
	}
	if o.prefix == "" {
		o.prefix = "b" + strconv.FormatInt(time.Now().Unix(), 36)
	}
	return o, nil
}

func parsePIDs(list string) ([]int, error) {
	var pids []int
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad pid %q", p)
		}
		pids = append(pids, n)
	}
	return pids, nil
}

func lastOctet(s string) (int, error) {
	p, ok := strings.CutPrefix(strings.TrimSpace(s), "127.0.0.")
	if !ok {
		return 0, fmt.Errorf("not 127.0.0.x")
	}
	return strconv.Atoi(p)
}
