package validate

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestHLLSkipsRepeats checks that the registers, which skip values
// repeating their grid bin's single value, equal those of a HyperLogLog
// given every value, on data where some bins mix and others repeat.
func TestHLLSkipsRepeats(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var b strings.Builder
	b.WriteString("x\n")
	var want HLL
	for i := 0; i < 20000; i++ {
		var v float64
		switch rng.IntN(3) {
		case 0:
			v = float64(rng.IntN(50)) / 4 // few values, repeated
		case 1:
			v = math.Copysign(0, -1)
		default:
			v = rng.Float64() * 1000 // mixes bins
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		b.WriteString(s + "\n")
		p, _, _ := parseNumber([]byte(s))
		want.AddHash(hashFloat(p))
	}
	st, err := ComputeCSV(strings.NewReader(b.String()), "r.csv", CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := st.Features[0].HLL.Registers
	if !bytes.Equal(got, want.Registers) {
		t.Fatalf("registers differ from a HyperLogLog of every value")
	}
}
