// Package hist is a log-linear latency histogram in microseconds: exact below
// 64 µs, then 32 sub-buckets per power of two (≤ 3.1% relative error), up to
// about 2^40 µs. Record is one atomic add, so several event loops may record
// into one histogram and a reporter may read it at any time.
package hist

import (
	"math/bits"
	"sync/atomic"
)

const (
	linear  = 64 // values below this have their own bucket
	subBits = 5  // 32 sub-buckets per power of two above linear
	sub     = 1 << subBits
	maxExp  = 35
	// Buckets is the number of buckets of a Histogram.
	Buckets = linear + maxExp*sub
)

// Histogram counts values (microseconds) in log-linear buckets.
type Histogram struct {
	counts [Buckets]atomic.Uint64
	max    atomic.Uint64
}

// Index returns the bucket of v.
func Index(v uint64) int {
	if v < linear {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v >> e is in [32, 63]
	if e > maxExp {
		return Buckets - 1
	}
	return linear + (e-1)*sub + int(v>>uint(e)) - sub
}

// Lower returns the smallest value of bucket i.
func Lower(i int) uint64 {
	if i < linear {
		return uint64(i)
	}
	i -= linear
	e := i/sub + 1
	return uint64(i%sub+sub) << uint(e)
}

// Upper returns the largest value of bucket i.
func Upper(i int) uint64 {
	if i < linear {
		return uint64(i)
	}
	if i+1 >= Buckets {
		return ^uint64(0)
	}
	return Lower(i+1) - 1
}

// Record adds one value.
func (h *Histogram) Record(us uint64) {
	h.counts[Index(us)].Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// Snapshot returns the non-empty buckets.
func (h *Histogram) Snapshot() Sparse {
	var s Sparse
	for i := range h.counts {
		if n := h.counts[i].Load(); n > 0 {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), n})
		}
	}
	s.Max = h.max.Load()
	return s
}

// Sparse is a histogram in transit: [bucket, count] pairs and the exact max.
type Sparse struct {
	Buckets [][2]uint64 `json:"b,omitempty"`
	Max     uint64      `json:"max"`
}

// Merge adds o into s.
func (s *Sparse) Merge(o Sparse) {
	m := make(map[uint64]uint64, len(s.Buckets)+len(o.Buckets))
	for _, b := range s.Buckets {
		m[b[0]] += b[1]
	}
	for _, b := range o.Buckets {
		m[b[0]] += b[1]
	}
	s.Buckets = s.Buckets[:0]
	for i := 0; i < Buckets; i++ {
		if n, ok := m[uint64(i)]; ok {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), n})
		}
	}
	s.Max = max(s.Max, o.Max)
}

// Count is the number of recorded values.
func (s Sparse) Count() uint64 {
	var n uint64
	for _, b := range s.Buckets {
		n += b[1]
	}
	return n
}

// Quantile returns the upper bound of the bucket holding quantile q (0..1),
// capped by the exact max, in microseconds; 0 when empty.
func (s Sparse) Quantile(q float64) uint64 {
	total := s.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for _, b := range s.Buckets {
		seen += b[1]
		if seen >= rank {
			return min(Upper(int(b[0])), s.Max)
		}
	}
	return s.Max
}
