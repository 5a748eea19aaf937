package pades

import (
	"bytes"
	"compress/flate"
	"io"
	"math"
	"math/rand/v2"
	"testing"
)

// stdInflate is compress/flate's complete decoding, or !ok on any error.
func stdInflate(raw []byte) ([]byte, bool) {
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	return out, err == nil
}

// fastInflate must agree with compress/flate whenever it succeeds, and
// succeed on everything compress/flate writes.
func TestFastInflateMatchesFlate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"obj", "endobj", " 0 R", "/Type", "/Page", "<<", ">>", "[", "]", "stream", "\n", "1234", " "}
	var inputs [][]byte
	for n := range 300 {
		var b []byte
		size := rng.IntN(1 << uint(rng.IntN(17)+1))
		switch n % 3 {
		case 0: // text-like
			for len(b) < size {
				b = append(b, words[rng.IntN(len(words))]...)
			}
		case 1: // random bytes
			for len(b) < size {
				b = append(b, byte(rng.IntN(256)))
			}
		default: // small alphabet, long runs
			for len(b) < size {
				b = append(b, bytes.Repeat([]byte{byte('a' + rng.IntN(3))}, rng.IntN(300)+1)...)
			}
		}
		inputs = append(inputs, b)
	}
	inputs = append(inputs, nil, []byte{0})
	for i, in := range inputs {
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, 5, flate.BestCompression, flate.HuffmanOnly} {
			var c bytes.Buffer
			w, _ := flate.NewWriter(&c, level)
			w.Write(in)
			w.Close()
			got, ok := fastInflate(c.Bytes(), 16, maxDecoded)
			if !ok || !bytes.Equal(got, in) {
				t.Fatalf("input %d level %d: ok=%v, %d bytes decoded, want %d", i, level, ok, len(got), len(in))
			}
			// Damaged copies: whatever fastInflate accepts, flate must decode
			// to the same bytes.
			raw := c.Bytes()
			for k := 0; k < 20 && len(raw) > 0; k++ {
				bad := bytes.Clone(raw)
				switch k % 3 {
				case 0:
					bad[rng.IntN(len(bad))] ^= byte(1 << rng.IntN(8))
				case 1:
					bad = bad[:rng.IntN(len(bad))]
				default:
					bad[rng.IntN(len(bad))] = byte(rng.IntN(256))
				}
				got, ok := fastInflate(bad, 16, maxDecoded)
				if !ok {
					continue
				}
				want, wok := stdInflate(bad)
				if !wok || !bytes.Equal(got, want) {
					t.Fatalf("input %d level %d damage %d: fast accepted %d bytes, flate ok=%v with %d", i, level, k, len(got), wok, len(want))
				}
			}
		}
	}
}

func FuzzFastInflate(f *testing.F) {
	var c bytes.Buffer
	w, _ := flate.NewWriter(&c, 6)
	w.Write([]byte("1 0 obj << /Type /Page /Parent 2 0 R >> endobj 1 0 obj << /Type /Page >>"))
	w.Close()
	f.Add(c.Bytes())
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := fastInflate(raw, 16, 1<<20)
		if !ok {
			return
		}
		want, wok := stdInflate(raw)
		if !wok || !bytes.Equal(got, want) {
			t.Fatalf("fast accepted %d bytes, flate ok=%v with %d", len(got), wok, len(want))
		}
	})
}

func TestAppendRealMatchesFormatReal(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 595.2756, 841.8898, 1e-5, -1e-5, 123456.78901, 100, -100.25, 3.00004, 2.99996} {
		if got, want := string(appendReal([]byte("x"), f)), "x"+formatReal(f); got != want {
			t.Errorf("appendReal(%v) = %q, want %q", f, got, want)
		}
	}
}
