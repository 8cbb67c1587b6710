package tensor

import "math"

// ReLU writes max(x, 0) into y (same length) without branches: a value
// whose sign bit is set becomes +0. Branches on random signs mispredict
// half the time, which made the obvious loop slower than the GEMMs around
// it.
func ReLU(y, x []float32) { reluFast(y, x) }

// ReLUBackward writes (or, with accumulate, adds) into dx the gradient dy
// where the ReLU output y is positive and 0 elsewhere. y must be a ReLU
// output (+0 or positive).
func ReLUBackward(dx, dy, y []float32, accumulate bool) { reluBackwardFast(dx, dy, y, accumulate) }

func reluGo(y, x []float32) {
	y = y[:len(x)]
	for i, v := range x {
		b := math.Float32bits(v)
		y[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

// reluBackwardGo builds the mask from y's bits: y > 0 exactly when its
// bits are not zero, since y is +0 or positive.
func reluBackwardGo(dx, dy, y []float32, accumulate bool) {
	dy, y = dy[:len(dx)], y[:len(dx)]
	if !accumulate {
		for i, d := range dy {
			m := uint32(-int32(math.Float32bits(y[i])) >> 31)
			dx[i] = math.Float32frombits(math.Float32bits(d) & m)
		}
		return
	}
	for i, d := range dy {
		m := uint32(-int32(math.Float32bits(y[i])) >> 31)
		dx[i] += math.Float32frombits(math.Float32bits(d) & m)
	}
}

// ConvFromGEMM turns the GEMM result tmp (O, B·P) of a convolution into the
// output out (B, O, P), adding bias[o] when bias is not nil.
func ConvFromGEMM(out, tmp, bias []float32, b, o, p int) { convFromGEMMFast(out, tmp, bias, b, o, p) }

func convFromGEMMGo(out, tmp, bias []float32, b, o, p int) {
	np := b * p
	for bi := 0; bi < b; bi++ {
		for oc := 0; oc < o; oc++ {
			dst := out[(bi*o+oc)*p:][:p]
			src := tmp[oc*np+bi*p:][:p]
			if bias == nil {
				copy(dst, src)
				continue
			}
			bv := bias[oc]
			for i, v := range src {
				dst[i] = v + bv
			}
		}
	}
}

// ConvToGEMM is the adjoint layout change: it copies dout (B, O, P) into
// dtmp (O, B·P) and, when dbias is not nil, writes (or, with accumulate,
// adds) each channel's gradient sum into dbias.
func ConvToGEMM(dtmp, dout, dbias []float32, b, o, p int, accumulate bool) {
	convToGEMMFast(dtmp, dout, b, o, p)
	if dbias == nil {
		return
	}
	np := b * p
	for oc := 0; oc < o; oc++ {
		s := sumFast(dtmp[oc*np : (oc+1)*np])
		if accumulate {
			dbias[oc] += s
		} else {
			dbias[oc] = s
		}
	}
}

// sumGo adds the values in four interleaved float32 partial sums.
func sumGo(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func convToGEMMGo(dtmp, dout []float32, b, o, p int) {
	np := b * p
	for bi := 0; bi < b; bi++ {
		for oc := 0; oc < o; oc++ {
			copy(dtmp[oc*np+bi*p:][:p], dout[(bi*o+oc)*p:][:p])
		}
	}
}
