package tensor

import (
	"fmt"
	"math"
)

// ConvGeom describes a 2-D convolution or pooling window over an input of
// shape (B, C, H, W): square kernel K, stride S and zero padding P.
type ConvGeom struct {
	B, C, H, W int
	K, S, P    int
}

// OutH returns the output height (H + 2P - K)/S + 1.
func (g ConvGeom) OutH() int { return (g.H+2*g.P-g.K)/g.S + 1 }

// OutW returns the output width (W + 2P - K)/S + 1.
func (g ConvGeom) OutW() int { return (g.W+2*g.P-g.K)/g.S + 1 }

// Check returns an error when the geometry cannot produce an output.
func (g ConvGeom) Check() error {
	if g.K < 1 || g.S < 1 || g.P < 0 || g.OutH() < 1 || g.OutW() < 1 {
		return fmt.Errorf("window %d stride %d padding %d does not fit input %dx%d", g.K, g.S, g.P, g.H, g.W)
	}
	return nil
}

// im2colNaive is the reference for Im2Col: one bounds test per element.
func im2colNaive(cols, x []float32, g ConvGeom) {
	oh, ow := g.OutH(), g.OutW()
	np := g.B * oh * ow
	for c := 0; c < g.C; c++ {
		for ki := 0; ki < g.K; ki++ {
			for kj := 0; kj < g.K; kj++ {
				q := (c*g.K+ki)*g.K + kj
				for b := 0; b < g.B; b++ {
					for y := 0; y < oh; y++ {
						for xx := 0; xx < ow; xx++ {
							iy, ix := y*g.S-g.P+ki, xx*g.S-g.P+kj
							v := float32(0)
							if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
								v = x[((b*g.C+c)*g.H+iy)*g.W+ix]
							}
							cols[q*np+(b*oh+y)*ow+xx] = v
						}
					}
				}
			}
		}
	}
}

// validRange returns the output columns [lo, hi) whose input column
// xx*S − P + kj falls inside [0, W).
func (g ConvGeom) validRange(kj, ow int) (lo, hi int) {
	// xx*S >= P-kj  and  xx*S <= W-1+P-kj
	lo = 0
	if d := g.P - kj; d > 0 {
		lo = (d + g.S - 1) / g.S
	}
	hi = 0
	if d := g.W - 1 + g.P - kj; d >= 0 {
		hi = d/g.S + 1
	}
	return min(lo, ow), min(max(hi, lo), ow)
}

// Im2Col unfolds x (B, C, H, W) into cols laid out as (C·K·K, B·OH·OW): row
// q = (c, ki, kj) holds, for every image and output position, the input
// value under kernel tap q (0 where the tap falls into padding). A
// convolution is then one GEMM: W (O, C·K·K) × cols.
func Im2Col(cols, x []float32, g ConvGeom) { im2colFast(cols, x, g) }

// im2colGo is Im2Col in Go: copies of the contiguous runs of input rows.
func im2colGo(cols, x []float32, g ConvGeom) {
	oh, ow := g.OutH(), g.OutW()
	plane := g.H * g.W
	np := g.B * oh * ow
	for c := 0; c < g.C; c++ {
		for ki := 0; ki < g.K; ki++ {
			for kj := 0; kj < g.K; kj++ {
				row := cols[((c*g.K+ki)*g.K+kj)*np:][:np]
				lo, hi := g.validRange(kj, ow)
				for b := 0; b < g.B; b++ {
					src := x[(b*g.C+c)*plane:][:plane]
					dst := row[b*oh*ow:][:oh*ow]
					for y := 0; y < oh; y++ {
						iy := y*g.S - g.P + ki
						d := dst[y*ow:][:ow]
						if iy < 0 || iy >= g.H {
							clear(d)
							continue
						}
						srow := src[iy*g.W:][:g.W]
						clear(d[:lo])
						clear(d[hi:])
						if g.S == 1 {
							copy(d[lo:hi], srow[lo-g.P+kj:])
							continue
						}
						for xx := lo; xx < hi; xx++ {
							d[xx] = srow[xx*g.S-g.P+kj]
						}
					}
				}
			}
		}
	}
}

// Col2Im is the adjoint of Im2Col: it adds every entry of cols back into
// the input position it was read from. dx must be zeroed by the caller when
// it should not accumulate.
func Col2Im(dx, cols []float32, g ConvGeom) { col2imFast(dx, cols, g) }

// col2imGo is Col2Im in Go.
func col2imGo(dx, cols []float32, g ConvGeom) {
	oh, ow := g.OutH(), g.OutW()
	plane := g.H * g.W
	np := g.B * oh * ow
	for c := 0; c < g.C; c++ {
		for ki := 0; ki < g.K; ki++ {
			for kj := 0; kj < g.K; kj++ {
				row := cols[((c*g.K+ki)*g.K+kj)*np:][:np]
				lo, hi := g.validRange(kj, ow)
				for b := 0; b < g.B; b++ {
					dst := dx[(b*g.C+c)*plane:][:plane]
					src := row[b*oh*ow:][:oh*ow]
					for y := 0; y < oh; y++ {
						iy := y*g.S - g.P + ki
						if iy < 0 || iy >= g.H {
							continue
						}
						drow := dst[iy*g.W:][:g.W]
						s := src[y*ow:][:ow]
						if g.S == 1 {
							d := drow[lo-g.P+kj:][:hi-lo]
							for i, v := range s[lo:hi] {
								d[i] += v
							}
							continue
						}
						for xx := lo; xx < hi; xx++ {
							drow[xx*g.S-g.P+kj] += s[xx]
						}
					}
				}
			}
		}
	}
}

// Conv2DNaive is the reference convolution: out (B, O, OH, OW) from x (B, C,
// H, W), weights w (O, C, K, K) and optional bias (O), by direct summation in
// float64.
func Conv2DNaive(x, w, bias []float32, o int, g ConvGeom) []float32 {
	oh, ow := g.OutH(), g.OutW()
	out := make([]float32, g.B*o*oh*ow)
	for b := 0; b < g.B; b++ {
		for oc := 0; oc < o; oc++ {
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					var s float64
					if bias != nil {
						s = float64(bias[oc])
					}
					for c := 0; c < g.C; c++ {
						for ki := 0; ki < g.K; ki++ {
							for kj := 0; kj < g.K; kj++ {
								iy, ix := y*g.S-g.P+ki, xx*g.S-g.P+kj
								if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
									continue
								}
								s += float64(x[((b*g.C+c)*g.H+iy)*g.W+ix]) * float64(w[((oc*g.C+c)*g.K+ki)*g.K+kj])
							}
						}
					}
					out[((b*o+oc)*oh+y)*ow+xx] = float32(s)
				}
			}
		}
	}
	return out
}

// MaxPool2D computes the maximum over each window of x (B, C, H, W) into out
// (B, C, OH, OW) and records in arg the index within its input plane of each
// chosen value, for the backward pass. Padding counts as -Inf; on ties the
// first value in row-major window order wins.
func MaxPool2D(out []float32, arg []int32, x []float32, g ConvGeom) {
	if g.K == 2 && g.S == 2 && g.P == 0 {
		maxPool2x2Fast(out, arg, x, g)
		return
	}
	maxPool2DNaive(out, arg, x, g)
}

// maxPool2x2 is MaxPool2D for the common 2×2 window with stride 2.
func maxPool2x2(out []float32, arg []int32, x []float32, g ConvGeom) {
	oh, ow := g.OutH(), g.OutW()
	plane := g.H * g.W
	for bc := 0; bc < g.B*g.C; bc++ {
		src := x[bc*plane:][:plane]
		dst := out[bc*oh*ow:][:oh*ow]
		am := arg[bc*oh*ow:][:oh*ow]
		for y := 0; y < oh; y++ {
			r0 := src[2*y*g.W:][:g.W]
			r1 := src[(2*y+1)*g.W:][:g.W]
			d := dst[y*ow:][:ow]
			a := am[y*ow:][:ow]
			base := int32(2 * y * g.W)
			w := int32(g.W)
			for xx := range d {
				i := 2 * xx
				// Compare as order-preserving integers: integer max and
				// selects compile to conditional moves, where float
				// compares branch and mispredict on real activations.
				k0, k1, k2, k3 := sortKey(r0[i]), sortKey(r0[i+1]), sortKey(r1[i]), sortKey(r1[i+1])
				m := max(max(k0, k1), max(k2, k3))
				bi := w + 1 // the first maximum in window order wins
				if k2 == m {
					bi = w
				}
				if k1 == m {
					bi = 1
				}
				if k0 == m {
					bi = 0
				}
				a[xx] = base + int32(i) + bi
				d[xx] = fromSortKey(m)
			}
		}
	}
}

// sortKey maps a float32 to an int32 with the same order (for non-NaN
// values; −0 sorts just below +0). It flips the magnitude bits of negative
// values, so it is its own inverse (see fromSortKey).
func sortKey(v float32) int32 {
	b := int32(math.Float32bits(v))
	return b ^ (b >> 31 & 0x7fffffff)
}

// fromSortKey inverts sortKey.
func fromSortKey(k int32) float32 {
	return math.Float32frombits(uint32(k ^ (k >> 31 & 0x7fffffff)))
}

// maxPool2DNaive is the reference (and general) max-pooling kernel.
func maxPool2DNaive(out []float32, arg []int32, x []float32, g ConvGeom) {
	oh, ow := g.OutH(), g.OutW()
	plane := g.H * g.W
	for bc := 0; bc < g.B*g.C; bc++ {
		src := x[bc*plane:][:plane]
		dst := out[bc*oh*ow:][:oh*ow]
		am := arg[bc*oh*ow:][:oh*ow]
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				best := float32(math.Inf(-1))
				bi := int32(-1)
				for ki := 0; ki < g.K; ki++ {
					iy := y*g.S - g.P + ki
					if iy < 0 || iy >= g.H {
						continue
					}
					for kj := 0; kj < g.K; kj++ {
						ix := xx*g.S - g.P + kj
						if ix < 0 || ix >= g.W {
							continue
						}
						if v := src[iy*g.W+ix]; v > best || bi < 0 {
							best, bi = v, int32(iy*g.W+ix)
						}
					}
				}
				dst[y*ow+xx] = best
				am[y*ow+xx] = bi
			}
		}
	}
}

// MaxPool2DBackward adds each output gradient to the input position that
// MaxPool2D chose.
func MaxPool2DBackward(dx, dout []float32, arg []int32, g ConvGeom) {
	n := g.OutH() * g.OutW()
	plane := g.H * g.W
	for bc := 0; bc < g.B*g.C; bc++ {
		d := dx[bc*plane:][:plane]
		for i, v := range dout[bc*n : (bc+1)*n] {
			d[arg[bc*n+i]] += v
		}
	}
}

// AvgPool2D averages each window of x into out; padding counts as zeros
// and the divisor is always K·K (PyTorch's count_include_pad=True).
func AvgPool2D(out, x []float32, g ConvGeom) {
	oh, ow := g.OutH(), g.OutW()
	plane := g.H * g.W
	inv := 1 / float32(g.K*g.K)
	for bc := 0; bc < g.B*g.C; bc++ {
		src := x[bc*plane:][:plane]
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				var s float32
				for ki := 0; ki < g.K; ki++ {
					iy := y*g.S - g.P + ki
					if iy < 0 || iy >= g.H {
						continue
					}
					for kj := 0; kj < g.K; kj++ {
						if ix := xx*g.S - g.P + kj; ix >= 0 && ix < g.W {
							s += src[iy*g.W+ix]
						}
					}
				}
				out[(bc*oh+y)*ow+xx] = s * inv
			}
		}
	}
}

// AvgPool2DBackward spreads each output gradient evenly over its window.
func AvgPool2DBackward(dx, dout []float32, g ConvGeom) {
	oh, ow := g.OutH(), g.OutW()
	plane := g.H * g.W
	inv := 1 / float32(g.K*g.K)
	for bc := 0; bc < g.B*g.C; bc++ {
		d := dx[bc*plane:][:plane]
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				v := dout[(bc*oh+y)*ow+xx] * inv
				for ki := 0; ki < g.K; ki++ {
					iy := y*g.S - g.P + ki
					if iy < 0 || iy >= g.H {
						continue
					}
					for kj := 0; kj < g.K; kj++ {
						if ix := xx*g.S - g.P + kj; ix >= 0 && ix < g.W {
							d[iy*g.W+ix] += v
						}
					}
				}
			}
		}
	}
}
