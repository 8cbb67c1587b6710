package validate

import (
	"math"
	"strconv"
	"unsafe"
)

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseNumber reads b as a decimal number: an optional sign, digits with
// an optional fraction and exponent, or NaN/Inf/Infinity in any case. It
// reports whether b is a number and whether it is an integer (no fraction
// or exponent, within int64). Short decimals take Clinger's fast path
// (mantissa below 2^53, power of ten at most 22: one correctly rounded
// multiply or divide); everything else goes to strconv.ParseFloat, so the
// result is always the correctly rounded value.
//
// The common plain forms ("-123", "41.98") are read here by two tight
// digit loops; anything else (a '+' sign, an exponent, more than 18
// integer or 19 significant digits, a long mantissa) goes to
// parseNumberGeneral, which gives the same answer for the plain forms
// (FuzzParseNumber checks both against each other and strconv).
func parseNumber(b []byte) (v float64, isInt, ok bool) {
	n := len(b)
	i := 0
	neg := false
	if n > 0 && b[0] == '-' {
		neg = true
		i = 1
	}
	var mant uint64
	start := i
	for i < n {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		mant = mant*10 + uint64(d)
		i++
	}
	intDigits := i - start
	if i == n {
		if intDigits == 0 || intDigits > 18 {
			return parseNumberGeneral(b)
		}
		v = float64(mant) // below 10^18: correctly rounded
		if neg {
			v = -v
		}
		return v, true, true
	}
	if b[i] != '.' {
		return parseNumberGeneral(b)
	}
	i++
	fs := i
	for i < n {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		mant = mant*10 + uint64(d)
		i++
	}
	frac := i - fs
	if i != n || intDigits+frac == 0 || intDigits+frac > 19 || mant >= 1<<53 || frac > 22 {
		return parseNumberGeneral(b)
	}
	v = float64(mant) / pow10[frac]
	if neg {
		v = -v
	}
	return v, false, true
}

// parseNumberGeneral is parseNumber for every form.
func parseNumberGeneral(b []byte) (v float64, isInt, ok bool) {
	n := len(b)
	if n == 0 {
		return 0, false, false
	}
	i := 0
	neg := false
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i++
		if i == n {
			return 0, false, false
		}
	}
	c := b[i]
	if c == 'n' || c == 'N' || c == 'i' || c == 'I' {
		return parseSpecial(b)
	}
	var mant uint64
	digits, frac := 0, 0
	sawDot, sawDigit := false, false
	over := false
	for ; i < n; i++ {
		c = b[i]
		if c >= '0' && c <= '9' {
			sawDigit = true
			switch {
			case !sawDot && mant == 0 && c == '0':
				// a leading zero changes nothing
			case digits < 19:
				mant = mant*10 + uint64(c-'0')
				digits++
				if sawDot {
					frac++
				}
			default:
				over = true
			}
			continue
		}
		if c == '.' && !sawDot {
			sawDot = true
			continue
		}
		break
	}
	if !sawDigit {
		return 0, false, false
	}
	if i < n {
		if b[i] != 'e' && b[i] != 'E' {
			return 0, false, false
		}
		i++
		if i < n && (b[i] == '-' || b[i] == '+') {
			i++
		}
		if i == n {
			return 0, false, false
		}
		for ; i < n; i++ {
			if b[i] < '0' || b[i] > '9' {
				return 0, false, false
			}
		}
		return slowFloat(b)
	}
	if over || (digits == 19 && !sawDot) {
		v, ok := slowFloatOK(b)
		return v, false, ok
	}
	if !sawDot {
		if mant > 1<<63 || (mant == 1<<63 && !neg) {
			v, ok := slowFloatOK(b)
			return v, false, ok
		}
		v = float64(mant) // correctly rounded
		if neg {
			v = -v
		}
		return v, true, true
	}
	if mant < 1<<53 && frac <= 22 {
		v = float64(mant) / pow10[frac]
		if neg {
			v = -v
		}
		return v, false, true
	}
	v, ok = slowFloatOK(b)
	return v, false, ok
}

func slowFloat(b []byte) (float64, bool, bool) {
	v, ok := slowFloatOK(b)
	return v, false, ok
}

// slowFloatOK parses b with strconv without copying it: the string does
// not outlive the call (the error that would hold it is dropped).
func slowFloatOK(b []byte) (float64, bool) {
	v, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil {
		// Out of range still parses (±Inf or 0 with ErrRange).
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return v, true
		}
		return 0, false
	}
	return v, true
}

func parseSpecial(b []byte) (float64, bool, bool) {
	s := unsafe.String(&b[0], len(b))
	switch len(s) {
	case 3, 4, 8, 9:
	default:
		return 0, false, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(math.IsNaN(v) || math.IsInf(v, 0)) {
		return 0, false, false
	}
	return v, false, true
}
