package hist

import "testing"

func TestIndexBounds(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<20; v++ {
		i := Index(v)
		if i < prev || i > prev+1 {
			t.Fatalf("Index(%d) = %d after %d", v, i, prev)
		}
		prev = i
		if Lower(i) > v || Upper(i) < v {
			t.Fatalf("v=%d in bucket %d [%d,%d]", v, i, Lower(i), Upper(i))
		}
		if v >= linear && float64(Upper(i)-Lower(i)) > 0.032*float64(Lower(i)) {
			t.Fatalf("bucket %d too wide: [%d,%d]", i, Lower(i), Upper(i))
		}
	}
	if Index(^uint64(0)) != Buckets-1 {
		t.Fatal("huge values must land in the last bucket")
	}
}

func TestQuantiles(t *testing.T) {
	var h Histogram
	for v := uint64(1); v <= 10000; v++ {
		h.Record(v)
	}
	s := h.Snapshot()
	var o Histogram
	o.Record(20000)
	s.Merge(o.Snapshot())
	if s.Count() != 10001 || s.Max != 20000 {
		t.Fatalf("count %d max %d", s.Count(), s.Max)
	}
	for _, c := range []struct {
		q    float64
		want uint64
	}{{0.5, 5000}, {0.99, 9900}, {1, 20000}} {
		got := s.Quantile(c.q)
		if float64(got) < float64(c.want)*0.97 || float64(got) > float64(c.want)*1.04 {
			t.Errorf("q%.2f = %d, want ≈ %d", c.q, got, c.want)
		}
	}
}
