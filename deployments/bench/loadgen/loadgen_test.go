package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestMain lets the test binary act as a worker: the coordinator forks
// os.Executable(), which is this binary under `go test`.
func TestMain(m *testing.M) {
	if raw, ok := os.LookupEnv("LOADGEN_WORKER"); ok {
		if err := workerMain(raw); err != nil {
			os.Stderr.WriteString("worker: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// roomServer is a tiny Socket.IO server with the semantics the scenarios
// rely on: token required, join acks, room counts broadcast on join, chat
// messages broadcast to the chat room.
type roomServer struct {
	mu    sync.Mutex
	rooms map[string][]*peer
}

type peer struct {
	mu   sync.Mutex
	conn net.Conn
}

func (p *peer) send(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = wsutil.WriteServerText(p.conn, []byte(s))
}

var joinRE = regexp.MustCompile(`^42(\d+)\["(video|chat):join",\{"videoId":"([^"]+)"\}\]$`)

func (s *roomServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	defer conn.Close()
	p := &peer{conn: conn}
	p.send(`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
	for {
		b, err := wsutil.ReadClientText(conn)
		if err != nil {
			return
		}
		m := string(b)
		switch {
		case strings.HasPrefix(m, `40{"token":`):
			p.send(`40{"sid":"s"}`)
		case strings.HasPrefix(m, "40"):
			p.send(`44{"message":"authentication required"}`)
		case joinRE.MatchString(m):
			g := joinRE.FindStringSubmatch(m)
			room := g[2] + ":" + g[3]
			p.send("43" + g[1] + `[{"ok":true}]`)
			// Counts are sent under the lock, so every member sees them in order
			// and its last one is the room's final size.
			s.mu.Lock()
			s.rooms[room] = append(s.rooms[room], p)
			event := map[string]string{"video": "video:viewers", "chat": "chat:user-count"}[g[2]]
			msg := `42["` + event + `",{"videoId":"` + g[3] + `","count":` + strconv.Itoa(len(s.rooms[room])) + `}]`
			for _, q := range s.rooms[room] {
				q.send(msg)
			}
			s.mu.Unlock()
		case strings.HasPrefix(m, `42["chat:message",{"videoId":"`):
			var args []json.RawMessage
			_ = json.Unmarshal(b[2:], &args)
			var in struct{ VideoID, Message string }
			_ = json.Unmarshal(args[1], &in)
			text, _ := json.Marshal(in.Message)
			out := `42["chat:message",{"id":"1","videoId":"` + in.VideoID + `","userId":"u","message":` + string(text) + `,"timestamp":1}]`
			s.mu.Lock()
			members := append([]*peer(nil), s.rooms["chat:"+in.VideoID]...)
			s.mu.Unlock()
			for _, q := range members {
				q.send(out)
			}
		}
	}
}

func run(t *testing.T, args ...string) *summary {
	t.Helper()
	out := filepath.Join(t.TempDir(), "summary.json")
	o, err := parseFlags(append(args, "-json-out", out, "-secret", "s", "-server-pids", strconv.Itoa(os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	if err := coordinate(o); err != nil {
		t.Fatal(err)
	}
	s, err := load(out)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScenariosAgainstFakeServer(t *testing.T) {
	srv := httptest.NewServer(&roomServer{rooms: map[string][]*peer{}})
	defer srv.Close()

	idle := run(t, "-scenario", "idle", "-url", srv.URL, "-conns", "60", "-rooms", "3", "-hold", "200ms", "-workers", "2")
	if idle.Connect.Connected != 60 || idle.Connect.Failed != 0 || idle.Workers != 2 {
		t.Fatalf("idle connect: %+v", idle.Connect)
	}
	if idle.Counts == nil || idle.Counts.ExactRooms != 3 || idle.Counts.ExactMembers != 60 {
		t.Fatalf("idle counts: %+v", idle.Counts)
	}

	fan := run(t, "-scenario", "fanout", "-url", srv.URL+","+srv.URL, "-subs", "40", "-rooms", "2", "-pubs", "2",
		"-rates", "20,40", "-step", "500ms", "-drain", "2s", "-settle", "100ms", "-workers", "2", "-msg-size", "50",
		"-p99-limit", "30s") // a loaded CI machine must not fail the test on latency
	if len(fan.Steps) != 2 || fan.Best == nil || fan.Best.Step != 1 {
		t.Fatalf("fanout steps: %+v", fan.Steps)
	}
	for _, st := range fan.Steps {
		if !st.OK || st.Lost != 0 || st.Received != st.Expected || st.Expected != uint64(st.Sent)*20 {
			t.Fatalf("step %+v", st)
		}
	}
	if fan.ErrorEvents != 0 || fan.Dropped != 0 {
		t.Fatalf("errors %d dropped %d", fan.ErrorEvents, fan.Dropped)
	}

	// Anonymous clients are refused by this server: failures are reported, not fatal.
	o, err := parseFlags([]string{"-scenario", "idle", "-url", srv.URL, "-conns", "3", "-hold", "0s", "-secret", "", "-json-out", filepath.Join(t.TempDir(), "s.json")})
	if err != nil {
		t.Fatal(err)
	}
	if err := coordinate(o); err != nil {
		t.Fatal(err)
	}
	s, err := load(o.jsonOut)
	if err != nil || s.Connect.Failed != 3 {
		t.Fatalf("anonymous run: %+v %v", s, err)
	}
}

func TestSplit(t *testing.T) {
	seen := 0
	for i := 0; i < 7; i++ {
		from, to := split(100, 7, i)
		if from != seen || to-from < 14 || to-from > 15 {
			t.Fatalf("part %d: [%d,%d)", i, from, to)
		}
		seen = to
	}
	if seen != 100 {
		t.Fatal("parts do not cover")
	}
	o, err := parseFlags([]string{"-scenario", "idle", "-conns", "100000"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(o.plan()); n != 6 {
		t.Fatalf("100k connections over %d workers", n)
	}
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	a := &summary{Scenario: "fanout", Best: &stepResult{DeliveriesPerSec: 1000, DeliveriesPerCPUS: 100}, ServerPIDs: []int{1}}
	b := &summary{Scenario: "fanout", Best: &stepResult{DeliveriesPerSec: 5000, DeliveriesPerCPUS: 1000}, ServerPIDs: []int{1}}
	for name, s := range map[string]*summary{"a.json": a, "b.json": b} {
		raw, _ := json.Marshal(s)
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stdout := os.Stdout
	r, w, _ := os.Pipe()
	os.Stdout = w
	err := compareMain([]string{"-names", "node,go", filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")})
	w.Close()
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	n, _ := r.Read(buf)
	out := string(buf[:n])
	if !strings.Contains(out, "5.00×") || !strings.Contains(out, "10.00×") {
		t.Fatalf("compare output:\n%s", out)
	}

	// Three columns, one not measured ("-"), an idle group with the edges' own figures.
	c := &summary{Scenario: "idle", Conns: 19000, Rooms: 100, HoldS: 30, ServerPIDs: []int{1}, EdgePIDs: []int{2},
		Connect: connectResult{Connected: 19000, PerSec: 5000}, Server: serverResult{RSSPerConnKB: 20},
		Edges: &edgeResult{RSSPerConnKB: 10}, Counts: &countResult{Rooms: 100, ExactRooms: 100}}
	d := &summary{Scenario: "idle", Conns: 19000, Rooms: 100, HoldS: 30, ServerPIDs: []int{1},
		Connect: connectResult{Connected: 19000, PerSec: 500}, Server: serverResult{RSSPerConnKB: 23}}
	for name, s := range map[string]*summary{"c.json": c, "d.json": d} {
		raw, _ := json.Marshal(s)
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, w, _ = os.Pipe()
	os.Stdout = w
	err = compareMain([]string{"-names", "node,embedded,distributed",
		filepath.Join(dir, "d.json"), "-", filepath.Join(dir, "c.json"),
		filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json"), "-"})
	w.Close()
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	n, _ = r.Read(buf)
	out = string(buf[:n])
	for _, want := range []string{"embedded / node", "distributed / node", "19,000", "10.00×", "0.87×",
		"edges: RSS KB per connection", "idle: 19,000 connections, 100 rooms, 30 s hold", "100 / 100"} {
		if !strings.Contains(out, want) {
			t.Fatalf("compare output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "\n") < 10 || !strings.HasPrefix(out, "| metric") {
		t.Fatalf("compare output:\n%s", out)
	}
	t.Logf("\n%s", out)
}
