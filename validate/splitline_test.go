package validate

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestSplitLine compares the word-at-a-time split with bytes.Split on
// lines of every length up to 40 over an alphabet holding the separator,
// the bytes one off it ('+', '-') and bytes with the high bit set.
func TestSplitLine(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alpha := []byte{',', '-', '+', 'a', '0', 0x80, 0xac, 0xff, 0}
	for n := 0; n <= 40; n++ {
		for r := 0; r < 200; r++ {
			line := make([]byte, n)
			for i := range line {
				line[i] = alpha[rng.IntN(len(alpha))]
			}
			for _, comma := range []byte{',', '|', '\t'} {
				got := splitLine(nil, line, comma)
				want := bytes.Split(line, []byte{comma})
				if len(got) != len(want) {
					t.Fatalf("%q split on %q: %d fields, want %d", line, comma, len(got), len(want))
				}
				for i := range got {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("%q split on %q: field %d is %q, want %q", line, comma, i, got[i], want[i])
					}
				}
			}
		}
	}
}
