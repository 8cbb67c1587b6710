package validate

import (
	"math"
	"strconv"
	"testing"
)

// checkParse asserts that parseNumber agrees bit for bit with
// parseNumberGeneral and, for every number it accepts, with
// strconv.ParseFloat.
func checkParse(t *testing.T, s string) {
	t.Helper()
	b := []byte(s)
	v, isInt, ok := parseNumber(b)
	gv, gInt, gok := parseNumberGeneral(b)
	if ok != gok || isInt != gInt || math.Float64bits(v) != math.Float64bits(gv) && !(v != v && gv != gv) {
		t.Fatalf("%q: parseNumber = %v (%016x) int %v ok %v; general = %v (%016x) int %v ok %v",
			s, v, math.Float64bits(v), isInt, ok, gv, math.Float64bits(gv), gInt, gok)
	}
	if !ok {
		return
	}
	want, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, isNE := err.(*strconv.NumError); !isNE || ne.Err != strconv.ErrRange {
			t.Fatalf("%q: parseNumber accepts %v, strconv rejects: %v", s, v, err)
		}
	}
	if math.Float64bits(v) != math.Float64bits(want) && !(v != v && want != want) {
		t.Fatalf("%q: parseNumber = %v (%016x), strconv = %v (%016x)", s, v, math.Float64bits(v), want, math.Float64bits(want))
	}
}

var parseSeeds = []string{
	"", "-", "+", ".", "-.", "0", "-0", "00", "0.0", "-0.0", "1.", ".5", "-.5", "+1.5",
	"27.33", "41.980264315", "-87.913624596", "1434037500", "17031081500",
	"123456789012345678", "1234567890123456789", "12345678901234567890",
	"000000000000000000001", "9007199254740993", "9007199254740993.0",
	"0.9007199254740993", "1.2345678901234567890", "0.0000000000000000000000001",
	"1.00000000000000000000001", "9223372036854775808", "-9223372036854775808",
	"1e5", "1.5E-3", "NaN", "-inf", "Infinity", "1.2.3", "1-2", "0x10", "1_0", "12a",
}

func TestParseNumberMatchesGeneral(t *testing.T) {
	for _, s := range parseSeeds {
		checkParse(t, s)
	}
	// Every plain decimal of a few digits with each placement of the dot.
	for m := 0; m < 200000; m += 7 {
		d := strconv.Itoa(m)
		for p := 0; p <= len(d); p++ {
			s := d[:p] + "." + d[p:]
			checkParse(t, s)
			checkParse(t, "-"+s)
		}
		checkParse(t, d)
		checkParse(t, "-"+d)
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkParse(t, s)
	})
}
