package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

type connectResult struct {
	Attempted   int            `json:"attempted"`
	Connected   int            `json:"connected"`
	Failed      int            `json:"failed"`
	FailReasons map[string]int `json:"fail_reasons,omitempty"`
	Seconds     float64        `json:"seconds"`
	PerSec      float64        `json:"per_sec"`
	P50ms       float64        `json:"p50_ms"`
	P99ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
}

type serverResult struct {
	RSSBeforeMB  float64 `json:"rss_before_mb"`
	RSSAfterMB   float64 `json:"rss_after_mb,omitempty"`
	RSSPerConnKB float64 `json:"rss_per_conn_kb,omitempty"`
	CPUConnectS  float64 `json:"cpu_connect_s"`
	CPUHoldS     float64 `json:"cpu_hold_s,omitempty"`
}

// edgeResult is serverResult for the -edge-pids alone.
type edgeResult struct {
	RSSBeforeMB  float64 `json:"rss_before_mb"`
	RSSAfterMB   float64 `json:"rss_after_mb,omitempty"`
	RSSPerConnKB float64 `json:"rss_per_conn_kb,omitempty"`
	CPUConnectS  float64 `json:"cpu_connect_s"`
	CPUHoldS     float64 `json:"cpu_hold_s,omitempty"`
}

type countResult struct {
	Rooms        int `json:"rooms"`
	ExactRooms   int `json:"exact_rooms"`
	Members      int `json:"members"`
	ExactMembers int `json:"exact_members"`
}

type stepResult struct {
	Step              int     `json:"step"`
	Rate              float64 `json:"rate"` // messages/s sent
	Sent              int     `json:"sent"`
	SendErrors        int     `json:"send_errors,omitempty"`
	Expected          uint64  `json:"expected"`
	Received          uint64  `json:"received"`
	Lost              int64   `json:"lost"`
	LossPct           float64 `json:"loss_pct"`
	WindowS           float64 `json:"window_s"`
	DeliveriesPerSec  float64 `json:"deliveries_per_sec"`
	P50ms             float64 `json:"p50_ms"`
	P90ms             float64 `json:"p90_ms"`
	P99ms             float64 `json:"p99_ms"`
	P999ms            float64 `json:"p999_ms"`
	MaxMs             float64 `json:"max_ms"`
	ServerCPUS        float64 `json:"server_cpu_s"`
	CPUSPerMillion    float64 `json:"server_cpu_s_per_million"`
	DeliveriesPerCPUS float64 `json:"deliveries_per_server_cpu_s"`
	OK                bool    `json:"ok"`
	Stop              string  `json:"stop,omitempty"`
}

type summary struct {
	Scenario     string        `json:"scenario"`
	Label        string        `json:"label"`
	Date         string        `json:"date"`
	Host         string        `json:"host"`
	CPUs         int           `json:"cpus"`
	URLs         []string      `json:"urls"`
	Workers      int           `json:"workers"`
	ServerPIDs   []int         `json:"server_pids"`
	EdgePIDs     []int         `json:"edge_pids,omitempty"`
	Rooms        int           `json:"rooms"`
	Conns        int           `json:"conns,omitempty"`
	Subs         int           `json:"subs,omitempty"`
	SubsReady    int           `json:"subs_ready,omitempty"`
	Pubs         int           `json:"pubs,omitempty"`
	HoldS        float64       `json:"hold_s,omitempty"`
	Connect      connectResult `json:"connect"`
	Server       serverResult  `json:"server"`
	Edges        *edgeResult   `json:"edges,omitempty"`
	Counts       *countResult  `json:"counts,omitempty"`
	Steps        []stepResult  `json:"steps,omitempty"`
	Best         *stepResult   `json:"best,omitempty"`
	CountEvents  uint64        `json:"count_events"`
	ErrorEvents  uint64        `json:"error_events"`
	ErrorSamples []string      `json:"error_samples,omitempty"`
	Dropped      uint64        `json:"dropped"`
	LoadgenCPUS  float64       `json:"loadgen_cpu_s"`
}

// print writes the human table, then the one-line JSON summary as the last
// line of out (and to jsonOut when set).
func (s *summary) print(out io.Writer, jsonOut string) error {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\n%s against %s (%s, %d workers, %d CPUs)\n", s.Scenario, s.Label, s.Date, s.Workers, s.CPUs)
	c := s.Connect
	fmt.Fprintf(tw, "connections\t%d ok, %d failed of %d\n", c.Connected, c.Failed, c.Attempted)
	for _, k := range sortedKeys(c.FailReasons) {
		fmt.Fprintf(tw, "  failure\t%d × %s\n", c.FailReasons[k], k)
	}
	fmt.Fprintf(tw, "connect rate\t%.0f /s over %.2f s (handshake+auth+join p50 %.1f ms, p99 %.1f ms, max %.1f ms)\n", c.PerSec, c.Seconds, c.P50ms, c.P99ms, c.MaxMs)
	if len(s.ServerPIDs) > 0 {
		fmt.Fprintf(tw, "server CPU while connecting\t%.2f s\n", s.Server.CPUConnectS)
	}
	if s.Scenario == "idle" {
		if len(s.ServerPIDs) > 0 {
			fmt.Fprintf(tw, "server RSS\t%.1f MB before, %.1f MB after %.0f s hold: %.2f KB per connection\n",
				s.Server.RSSBeforeMB, s.Server.RSSAfterMB, s.HoldS, s.Server.RSSPerConnKB)
			fmt.Fprintf(tw, "server CPU while holding\t%.2f s\n", s.Server.CPUHoldS)
		}
		if e := s.Edges; e != nil {
			fmt.Fprintf(tw, "edges (%d) RSS\t%.1f MB before, %.1f MB after: %.2f KB per connection\n",
				len(s.EdgePIDs), e.RSSBeforeMB, e.RSSAfterMB, e.RSSPerConnKB)
			fmt.Fprintf(tw, "edges CPU\t%.2f s while connecting, %.2f s while holding\n", e.CPUConnectS, e.CPUHoldS)
		}
		if s.Counts != nil {
			fmt.Fprintf(tw, "viewer counts exact\t%d/%d rooms, %d/%d members (%d count events received)\n",
				s.Counts.ExactRooms, s.Counts.Rooms, s.Counts.ExactMembers, s.Counts.Members, s.CountEvents)
		}
	}
	fmt.Fprintf(tw, "error events / dropped\t%d / %d\n", s.ErrorEvents, s.Dropped)
	for _, e := range s.ErrorSamples {
		fmt.Fprintf(tw, "  sample\t%.120s\n", e)
	}
	fmt.Fprintf(tw, "load generator CPU\t%.2f s\n", s.LoadgenCPUS)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Steps) > 0 {
		fmt.Fprintf(out, "\n%d subscribers (%d ready) in %d rooms, %d publishers\n", s.Subs, s.SubsReady, s.Rooms, s.Pubs)
		tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "step\tmsg/s\tsent\texpected\tdelivered\tlost\tdeliv/s\tp50 ms\tp90 ms\tp99 ms\tp999 ms\tmax ms\tsrv CPU s\tCPU s/M\t\t")
		for _, r := range s.Steps {
			fmt.Fprintf(tw, "%d\t%.0f\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\t%s\n",
				r.Step, r.Rate, r.Sent, r.Expected, r.Received, r.Lost, r.DeliveriesPerSec,
				r.P50ms, r.P90ms, r.P99ms, r.P999ms, r.MaxMs, r.ServerCPUS, r.CPUSPerMillion, r.Stop)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if b := s.Best; b != nil {
			fmt.Fprintf(out, "best sustained step: %.0f deliveries/s, p99 %.2f ms, %.0f deliveries per server CPU-second\n",
				b.DeliveriesPerSec, b.P99ms, b.DeliveriesPerCPUS)
		} else {
			fmt.Fprintln(out, "no step passed (zero loss and p99 under the limit)")
		}
	}
	line, err := json.Marshal(s)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s\n", line)
	if jsonOut != "" {
		return os.WriteFile(jsonOut, append(line, '\n'), 0o644)
	}
	return nil
}

// metric is one row of the side-by-side comparison.
type metric struct {
	name    string
	higher  bool // higher is better
	noRatio bool // a tally: no ratio, no "better"
	get     func(*summary) (float64, bool)
}

// countText writes some tallies as text.
var countText = map[string]func(*summary) string{
	"passed (no loss, p99 under the limit)": func(s *summary) string {
		if r := s.Steps[len(s.Steps)-1]; !r.OK {
			return "no: " + r.Stop
		}
		return "yes"
	},
	"rooms whose viewer count is exact": func(s *summary) string {
		return thousands(float64(s.Counts.ExactRooms)) + " / " + thousands(float64(s.Counts.Rooms))
	},
	"members whose last count is exact": func(s *summary) string {
		return thousands(float64(s.Counts.ExactMembers)) + " / " + thousands(float64(s.Counts.Members))
	},
}

func withPIDs(f func(*summary) float64) func(*summary) (float64, bool) {
	return func(s *summary) (float64, bool) { return f(s), len(s.ServerPIDs) > 0 }
}

func withEdges(f func(*edgeResult) float64) func(*summary) (float64, bool) {
	return func(s *summary) (float64, bool) {
		if s.Edges == nil {
			return 0, false
		}
		return f(s.Edges), true
	}
}

func withCounts(f func(*countResult) int) func(*summary) (float64, bool) {
	return func(s *summary) (float64, bool) {
		if s.Counts == nil {
			return 0, false
		}
		return float64(f(s.Counts)), true
	}
}

var idleMetrics = []metric{
	{"connections ok", true, true, func(s *summary) (float64, bool) { return float64(s.Connect.Connected), true }},
	{"connect failures", false, true, func(s *summary) (float64, bool) { return float64(s.Connect.Failed), true }},
	{"connect rate /s (handshake + auth + join)", true, false, func(s *summary) (float64, bool) { return s.Connect.PerSec, s.Connect.PerSec > 0 }},
	{"connect p50 ms", false, false, func(s *summary) (float64, bool) { return s.Connect.P50ms, s.Connect.Connected > 0 }},
	{"connect p99 ms", false, false, func(s *summary) (float64, bool) { return s.Connect.P99ms, s.Connect.Connected > 0 }},
	{"server CPU s while connecting", false, false, withPIDs(func(s *summary) float64 { return s.Server.CPUConnectS })},
	{"server RSS KB per connection", false, false, withPIDs(func(s *summary) float64 { return s.Server.RSSPerConnKB })},
	{"server RSS MB, connections held", false, false, withPIDs(func(s *summary) float64 { return s.Server.RSSAfterMB })},
	{"server CPU s while holding", false, false, withPIDs(func(s *summary) float64 { return s.Server.CPUHoldS })},
	{"edges: RSS KB per connection (sum over edges)", false, false, withEdges(func(e *edgeResult) float64 { return e.RSSPerConnKB })},
	{"edges: RSS MB, connections held", false, false, withEdges(func(e *edgeResult) float64 { return e.RSSAfterMB })},
	{"edges: CPU s while connecting", false, false, withEdges(func(e *edgeResult) float64 { return e.CPUConnectS })},
	{"rooms whose viewer count is exact", true, true, withCounts(func(c *countResult) int { return c.ExactRooms })},
	{"members whose last count is exact", true, true, withCounts(func(c *countResult) int { return c.ExactMembers })},
	{"connections dropped", false, true, func(s *summary) (float64, bool) { return float64(s.Dropped), true }},
}

func bestOf(f func(*stepResult) float64) func(*summary) (float64, bool) {
	return func(s *summary) (float64, bool) {
		if s.Best == nil {
			return 0, false
		}
		return f(s.Best), true
	}
}

var fanoutMetrics = []metric{
	{"best deliveries/s (no loss, p99 ok)", true, false, bestOf(func(r *stepResult) float64 { return r.DeliveriesPerSec })},
	{"  at msg/s", true, false, bestOf(func(r *stepResult) float64 { return r.Rate })},
	{"  p50 ms", false, false, bestOf(func(r *stepResult) float64 { return r.P50ms })},
	{"  p99 ms", false, false, bestOf(func(r *stepResult) float64 { return r.P99ms })},
	{"  p999 ms", false, false, bestOf(func(r *stepResult) float64 { return r.P999ms })},
	{"  max ms", false, false, bestOf(func(r *stepResult) float64 { return r.MaxMs })},
	{"  server CPU s per 1M deliveries", false, false, bestOf(func(r *stepResult) float64 { return r.CPUSPerMillion })},
	{"  deliveries per server CPU-second", true, false, bestOf(func(r *stepResult) float64 { return r.DeliveriesPerCPUS })},
	{"steps passed", true, true, func(s *summary) (float64, bool) {
		n := 0
		for _, r := range s.Steps {
			if r.OK {
				n++
			}
		}
		return float64(n), true
	}},
	{"messages lost (all steps)", false, true, func(s *summary) (float64, bool) {
		var n int64
		for _, r := range s.Steps {
			n += r.Lost
		}
		return float64(n), true
	}},
	{"connect rate /s", true, false, func(s *summary) (float64, bool) { return s.Connect.PerSec, s.Connect.PerSec > 0 }},
}

func lastStep(f func(*stepResult) float64) func(*summary) (float64, bool) {
	return func(s *summary) (float64, bool) {
		if len(s.Steps) == 0 {
			return 0, false
		}
		return f(&s.Steps[len(s.Steps)-1]), true
	}
}

// e2eMetrics describe the e2e run's (last) step whether it passed or not: it
// runs at the rate asked for, not up to a limit.
var e2eMetrics = []metric{
	{"msg/s sent", true, true, lastStep(func(r *stepResult) float64 { return r.Rate })},
	{"deliveries/s", true, false, lastStep(func(r *stepResult) float64 { return r.DeliveriesPerSec })},
	{"deliveries lost", false, true, lastStep(func(r *stepResult) float64 { return float64(r.Lost) })},
	{"p50 ms", false, false, lastStep(func(r *stepResult) float64 { return r.P50ms })},
	{"p90 ms", false, false, lastStep(func(r *stepResult) float64 { return r.P90ms })},
	{"p99 ms", false, false, lastStep(func(r *stepResult) float64 { return r.P99ms })},
	{"max ms", false, false, lastStep(func(r *stepResult) float64 { return r.MaxMs })},
	{"server CPU s per 1M deliveries", false, false, lastStep(func(r *stepResult) float64 { return r.CPUSPerMillion })},
	{"deliveries per server CPU-second", true, false, lastStep(func(r *stepResult) float64 { return r.DeliveriesPerCPUS })},
	{"passed (no loss, p99 under the limit)", true, true, lastStep(func(r *stepResult) float64 {
		if r.OK {
			return 1
		}
		return 0
	})},
	{"connect rate /s", true, false, func(s *summary) (float64, bool) { return s.Connect.PerSec, s.Connect.PerSec > 0 }},
}

// compareMain prints summaries side by side as one Markdown table (aligned,
// so it reads as is and pastes into a README), with each column's ratio to
// the first: compare [-names A,B,…] a1.json b1.json … [a2.json b2.json …].
// There are as many files per group as names; "-" marks one not measured.
func compareMain(args []string) error {
	names := []string{"A", "B"}
	if len(args) >= 2 && args[0] == "-names" {
		names = strings.Split(args[1], ",")
		args = args[2:]
	}
	k := len(names)
	if len(args) == 0 || len(args)%k != 0 {
		return fmt.Errorf("usage: loadgen compare [-names A,B,…] a.json b.json … [a2.json b2.json …] (one file per name and group, - for none)")
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 1, ' ', 0)
	row := func(cells ...string) {
		fmt.Fprintf(tw, "| %s\t|\n", strings.Join(cells, "\t| "))
	}
	header := append([]string{"metric"}, names...)
	for _, n := range names[1:] {
		header = append(header, n+" / "+names[0])
	}
	if k > 1 {
		header = append(header, "better")
	}
	row(header...)
	dashes := make([]string, len(header))
	for i := range dashes {
		dashes[i] = "---"
	}
	row(dashes...)
	for g := 0; g < len(args); g += k {
		sums := make([]*summary, k)
		var first *summary
		for i := range sums {
			if args[g+i] == "-" {
				continue
			}
			s, err := load(args[g+i])
			if err != nil {
				return err
			}
			sums[i] = s
			if first == nil {
				first = s
			}
		}
		if first == nil {
			continue
		}
		cells := make([]string, len(header))
		cells[0] = "**" + groupTitle(first) + "**"
		row(cells...)
		ms := fanoutMetrics
		switch first.Scenario {
		case "idle":
			ms = idleMetrics
		case "e2e":
			ms = e2eMetrics
		}
		for _, m := range ms {
			vals := make([]float64, k)
			oks := make([]bool, k)
			seen := false
			cells := []string{m.name}
			for i, s := range sums {
				if s != nil {
					vals[i], oks[i] = m.get(s)
				}
				seen = seen || oks[i]
				if text := countText[m.name]; oks[i] && text != nil {
					cells = append(cells, text(s))
				} else {
					cells = append(cells, num(vals[i], oks[i]))
				}
			}
			if !seen {
				continue
			}
			for i := 1; i < k; i++ {
				ratio := ""
				if !m.noRatio && oks[0] && oks[i] && vals[0] != 0 {
					ratio = fmt.Sprintf("%.2f×", vals[i]/vals[0])
				}
				cells = append(cells, ratio)
			}
			if k > 1 {
				switch {
				case m.noRatio:
					cells = append(cells, "")
				case m.higher:
					cells = append(cells, "higher")
				default:
					cells = append(cells, "lower")
				}
			}
			row(cells...)
		}
	}
	return tw.Flush()
}

func groupTitle(s *summary) string {
	switch s.Scenario {
	case "idle":
		return fmt.Sprintf("idle: %s connections, %s, %.0f s hold", thousands(float64(s.Conns)), plural(s.Rooms, "room"), s.HoldS)
	default:
		return fmt.Sprintf("%s: %s subscribers, %s, %s", s.Scenario, thousands(float64(s.Subs)), plural(s.Rooms, "room"), plural(s.Pubs, "publisher"))
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(float64(n)) + " " + noun + "s"
}

func num(v float64, ok bool) string {
	switch {
	case !ok:
		return "—"
	case v >= 1000 || v <= -1000 || v == float64(int64(v)):
		return thousands(v)
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// thousands rounds v to an integer written with thousands separators.
func thousands(v float64) string {
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func load(path string) (*summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}
