package main

import (
	"runtime/debug"
	"testing"
)

func TestQuietAfterBurst(t *testing.T) {
	const after = 64 << 20
	tests := []struct {
		name                  string
		sinceTrim, inInterval uint64
		want                  bool
	}{
		{"idle since the last trim", 1 << 20, 1 << 20, false},
		{"burst still going", 300 << 20, 100 << 20, false},
		{"quiet after a burst", 300 << 20, 2 << 20, true},
		{"steady moderate load", 300 << 20, 30 << 20, false},
		{"just under a burst", after - 1, 0, false},
	}
	for _, tt := range tests {
		if got := quietAfterBurst(tt.sinceTrim, tt.inInterval, after); got != tt.want {
			t.Errorf("%s: quietAfterBurst = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMemoryDefaults(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	setMemoryDefaults(map[string]string{"GOGC": "200"})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set by the operator: GC percent changed to %d", got)
	}
	setMemoryDefaults(map[string]string{})
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Fatalf("GC percent %d, want the default %d", got, defaultGCPercent)
	}
}
