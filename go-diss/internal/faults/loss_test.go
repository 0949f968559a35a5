package faults

import (
	"math"
	"testing"
)

func TestCheckLoss(t *testing.T) {
	tests := []struct {
		name    string
		p       float64
		env     string
		wantErr bool
	}{
		{"off needs nothing", 0, "", false},
		{"allowed", 0.3, "1", false},
		{"not enabled", 0.3, "", true},
		{"enabled by another value", 0.3, "yes", true},
		{"one is total loss", 1, "1", true},
		{"negative", -0.1, "1", true},
		{"nan", math.NaN(), "1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckLoss(tc.p, tc.env); (err != nil) != tc.wantErr {
				t.Fatalf("CheckLoss(%v, %q) = %v, want error %v", tc.p, tc.env, err, tc.wantErr)
			}
		})
	}
}

func TestLossDropsAboutP(t *testing.T) {
	tests := []struct {
		name   string
		loss   *Loss
		lo, hi int // dropped out of 10,000
	}{
		{"nil drops nothing", nil, 0, 0},
		{"zero drops nothing", NewLoss(0, 1), 0, 0},
		{"ten percent", NewLoss(0.1, 1), 900, 1100},
		{"thirty percent", NewLoss(0.3, 2), 2850, 3150},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			for range 10000 {
				if tc.loss.Drop() {
					n++
				}
			}
			if n < tc.lo || n > tc.hi {
				t.Fatalf("dropped %d of 10000, want %d..%d", n, tc.lo, tc.hi)
			}
		})
	}
}
