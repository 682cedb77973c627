// Package procfs reads the memory and CPU use of server processes from
// /proc/<pid>/status and /proc/<pid>/stat.
package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime/stime in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux architecture Go supports in practice).
const userHZ = 100

// Sample is the sum over a set of processes at one moment.
type Sample struct {
	At       time.Time
	RSSBytes uint64        // VmRSS
	CPU      time.Duration // utime + stime since each process started
	Missing  []int         // pids that could not be read (gone)
}

// Read samples every pid in pids.
func Read(pids []int) Sample {
	s := Sample{At: time.Now()}
	for _, pid := range pids {
		rss, err1 := rss(pid)
		cpu, err2 := cpu(pid)
		if err1 != nil || err2 != nil {
			s.Missing = append(s.Missing, pid)
			continue
		}
		s.RSSBytes += rss
		s.CPU += cpu
	}
	return s
}

func rss(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(v)) // "12345 kB"
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("procfs: no VmRSS for pid %d", pid)
}

func cpu(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

// parseStat returns utime+stime from a /proc/<pid>/stat line. The command
// name (field 2) may hold spaces and parentheses: fields are counted from
// the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("procfs: bad stat line")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("procfs: short stat line")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("procfs: bad utime/stime")
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}
