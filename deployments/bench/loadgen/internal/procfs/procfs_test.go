package procfs

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	line := []byte("4242 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 100 200 300\n")
	d, err := parseStat(line)
	if err != nil || d != 3*time.Second {
		t.Fatalf("got %v, %v", d, err)
	}
}

func TestReadSelf(t *testing.T) {
	s := Read([]int{os.Getpid(), 1 << 30})
	if s.RSSBytes == 0 || len(s.Missing) != 1 {
		t.Fatalf("sample %+v", s)
	}
}
