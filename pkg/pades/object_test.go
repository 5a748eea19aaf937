package pades

import (
	"math"
	"testing"
)

func TestAppendRealMatchesFormatReal(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 595.2756, 841.8898, 1e-5, -1e-5, 123456.78901, 100, -100.25, 3.00004, 2.99996} {
		if got, want := string(appendReal([]byte("x"), f)), "x"+formatReal(f); got != want {
			t.Errorf("appendReal(%v) = %q, want %q", f, got, want)
		}
	}
}
