package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randT(rng *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64())
	}
	return t
}

func randShape(rng *rand.Rand) []int {
	nd := 1 + rng.IntN(4)
	s := make([]int, nd)
	for i := range s {
		s[i] = 1 + rng.IntN(5)
	}
	return s
}

// broadcastable derives from s a shape that broadcasts with it: some
// leading dimensions dropped and some sizes replaced by 1.
func broadcastable(rng *rand.Rand, s []int) []int {
	out := append([]int{}, s[rng.IntN(len(s)):]...)
	for i := range out {
		if rng.IntN(3) == 0 {
			out[i] = 1
		}
	}
	return out
}

func closeEnough(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestBinaryMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for trial := 0; trial < 300; trial++ {
		sa := randShape(rng)
		sb := broadcastable(rng, sa)
		if rng.IntN(2) == 0 {
			sa, sb = sb, sa
		}
		a, b := randT(rng, sa...), randT(rng, sb...)
		for op := OpAdd; op <= OpDiv; op++ {
			got := Binary(op, a, b)
			want := New(got.Shape...)
			binaryNaive(op, want, a, b)
			closeEnough(t, op.String(), got.Data, want.Data, 0)
		}
	}
}

func TestBroadcastShapeErrors(t *testing.T) {
	if _, err := BroadcastShape([]int{2, 3}, []int{4}); err == nil {
		t.Fatal("shapes [2 3] and [4] broadcast")
	}
	s, err := BroadcastShape([]int{5, 1, 3}, []int{4, 1})
	if err != nil || !SameShape(s, []int{5, 4, 3}) {
		t.Fatalf("got %v, %v", s, err)
	}
}

func TestSumToIsAdjointOfBroadcast(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for trial := 0; trial < 200; trial++ {
		big := randShape(rng)
		small := broadcastable(rng, big)
		// <broadcast(x), y> == <x, SumTo(y)>
		x, y := randT(rng, small...), randT(rng, big...)
		bx := Add(x, New(big...))
		var lhs, rhs float64
		for i := range bx.Data {
			lhs += float64(bx.Data[i]) * float64(y.Data[i])
		}
		s := SumTo(y, small)
		for i := range s.Data {
			rhs += float64(s.Data[i]) * float64(x.Data[i])
		}
		if math.Abs(lhs-rhs) > 1e-3*(1+math.Abs(lhs)) {
			t.Fatalf("%v→%v: <Bx,y>=%v <x,Sy>=%v", small, big, lhs, rhs)
		}
	}
}

func TestMatMulMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	sizes := []int{1, 2, 3, 7, 16, 33, 64, 65}
	for trial := 0; trial < 120; trial++ {
		m, n, k := sizes[rng.IntN(len(sizes))], sizes[rng.IntN(len(sizes))], sizes[rng.IntN(len(sizes))]
		ta, tb := rng.IntN(2) == 0, rng.IntN(2) == 0
		as, bs := []int{m, k}, []int{k, n}
		if ta {
			as = []int{k, m}
		}
		if tb {
			bs = []int{n, k}
		}
		a, b := randT(rng, as...), randT(rng, bs...)
		closeEnough(t, "matmul", MatMul(a, b, ta, tb).Data, MatMulNaive(a, b, ta, tb).Data, 1e-4*float64(k))
	}
}

func TestTransposeMatchesIndexing(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	x := randT(rng, 2, 3, 4)
	y := Transpose(x, 2, 0, 1) // (4, 2, 3)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 4; k++ {
				if y.Data[(k*2+i)*3+j] != x.Data[(i*3+j)*4+k] {
					t.Fatalf("y[%d,%d,%d] != x[%d,%d,%d]", k, i, j, i, j, k)
				}
			}
		}
	}
	m := randT(rng, 37, 70)
	mt := Transpose(m)
	for i := 0; i < 37; i++ {
		for j := 0; j < 70; j++ {
			if mt.Data[j*37+i] != m.Data[i*70+j] {
				t.Fatalf("2-D transpose wrong at %d,%d", i, j)
			}
		}
	}
}

func TestReductions(t *testing.T) {
	x := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	closeEnough(t, "sum0", Sum(x, 0, false).Data, []float32{5, 7, 9}, 0)
	closeEnough(t, "sum1", Sum(x, -1, true).Data, []float32{6, 15}, 0)
	closeEnough(t, "mean1", Mean(x, 1, false).Data, []float32{2, 5}, 1e-7)
	closeEnough(t, "max0", Max(x, 0, false).Data, []float32{4, 5, 6}, 0)
	if got := ArgMaxRows(FromSlice([]float32{1, 9, 9, 7, 0, -1}, 2, 3)); got[0] != 1 || got[1] != 0 {
		t.Fatalf("argmax %v", got)
	}
	if SumAll(x) != 21 {
		t.Fatal("sumall")
	}
}

func TestConcatSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	a, b := randT(rng, 2, 3, 4), randT(rng, 2, 5, 4)
	c := Concat(1, a, b)
	closeEnough(t, "slice a", Slice(c, 1, 0, 3).Data, a.Data, 0)
	closeEnough(t, "slice b", Slice(c, 1, 3, 8).Data, b.Data, 0)
}

func TestReshape(t *testing.T) {
	x := New(2, 3, 4)
	if y := x.Reshape(4, -1); !SameShape(y.Shape, []int{4, 6}) || &y.Data[0] != &x.Data[0] {
		t.Fatalf("reshape %v", y.Shape)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("bad reshape did not panic")
		}
	}()
	x.Reshape(5, -1)
}

func TestConvIm2ColMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	geoms := []ConvGeom{
		{B: 2, C: 1, H: 28, W: 28, K: 5, S: 1, P: 2},
		{B: 3, C: 6, H: 14, W: 14, K: 5, S: 1, P: 0},
		{B: 1, C: 3, H: 7, W: 9, K: 3, S: 2, P: 1},
		{B: 2, C: 2, H: 4, W: 4, K: 1, S: 1, P: 0},
		{B: 1, C: 1, H: 3, W: 3, K: 3, S: 1, P: 0},
	}
	for _, g := range geoms {
		o := 4
		x, w, bias := randT(rng, g.B, g.C, g.H, g.W), randT(rng, o, g.C, g.K, g.K), randT(rng, o)
		q, np := g.C*g.K*g.K, g.B*g.OutH()*g.OutW()
		cols := make([]float32, q*np)
		Im2Col(cols, x.Data, g)
		tmp := MatMul(w.Reshape(o, q), FromSlice(cols, q, np), false, false) // (O, B·P)
		p := g.OutH() * g.OutW()
		got := make([]float32, g.B*o*p)
		for b := 0; b < g.B; b++ {
			for oc := 0; oc < o; oc++ {
				for i := 0; i < p; i++ {
					got[(b*o+oc)*p+i] = tmp.Data[oc*np+b*p+i] + bias.Data[oc]
				}
			}
		}
		closeEnough(t, "conv", got, Conv2DNaive(x.Data, w.Data, bias.Data, o, g), 1e-4*float64(q))

		// Col2Im is the adjoint of Im2Col: <Im2Col(x), c> == <x, Col2Im(c)>.
		c := randT(rng, q*np)
		dx := make([]float32, len(x.Data))
		Col2Im(dx, c.Data, g)
		var lhs, rhs float64
		for i := range cols {
			lhs += float64(cols[i]) * float64(c.Data[i])
		}
		for i := range dx {
			rhs += float64(dx[i]) * float64(x.Data[i])
		}
		if math.Abs(lhs-rhs) > 1e-3*(1+math.Abs(lhs)) {
			t.Fatalf("%+v: im2col adjoint mismatch %v vs %v", g, lhs, rhs)
		}
	}
}

func TestPooling(t *testing.T) {
	x := FromSlice([]float32{
		1, 2, 5, 0,
		3, 4, 1, 1,
		0, 0, 9, 8,
		7, 0, 6, 6}, 1, 1, 4, 4)
	g := ConvGeom{B: 1, C: 1, H: 4, W: 4, K: 2, S: 2}
	out := make([]float32, 4)
	arg := make([]int32, 4)
	MaxPool2D(out, arg, x.Data, g)
	closeEnough(t, "maxpool", out, []float32{4, 5, 7, 9}, 0)
	dx := make([]float32, 16)
	MaxPool2DBackward(dx, []float32{1, 2, 3, 4}, arg, g)
	closeEnough(t, "maxpool back", dx, []float32{0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 4, 0, 3, 0, 0, 0}, 0)
	AvgPool2D(out, x.Data, g)
	closeEnough(t, "avgpool", out, []float32{2.5, 1.75, 1.75, 7.25}, 1e-7)
}

func TestConvKernelsMatchNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 200; trial++ {
		g := ConvGeom{B: 1 + rng.IntN(3), C: 1 + rng.IntN(3), H: 1 + rng.IntN(9), W: 1 + rng.IntN(9), K: 1 + rng.IntN(4), S: 1 + rng.IntN(3), P: rng.IntN(3)}
		if g.Check() != nil || g.P >= g.K {
			continue
		}
		x := randT(rng, g.B, g.C, g.H, g.W)
		n := g.C * g.K * g.K * g.B * g.OutH() * g.OutW()
		fast, ref := make([]float32, n), make([]float32, n)
		for i := range fast {
			fast[i] = float32(math.NaN()) // every element must be written
		}
		Im2Col(fast, x.Data, g)
		im2colNaive(ref, x.Data, g)
		closeEnough(t, "im2col", fast, ref, 0)
		// Col2Im against the adjoint definition, element by element.
		c := randT(rng, n)
		dx := make([]float32, len(x.Data))
		Col2Im(dx, c.Data, g)
		want := make([]float64, len(x.Data))
		oh, ow := g.OutH(), g.OutW()
		np := g.B * oh * ow
		for ch := 0; ch < g.C; ch++ {
			for ki := 0; ki < g.K; ki++ {
				for kj := 0; kj < g.K; kj++ {
					q := (ch*g.K+ki)*g.K + kj
					for b := 0; b < g.B; b++ {
						for y := 0; y < oh; y++ {
							for xx := 0; xx < ow; xx++ {
								iy, ix := y*g.S-g.P+ki, xx*g.S-g.P+kj
								if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
									want[((b*g.C+ch)*g.H+iy)*g.W+ix] += float64(c.Data[q*np+(b*oh+y)*ow+xx])
								}
							}
						}
					}
				}
			}
		}
		for i := range dx {
			if math.Abs(float64(dx[i])-want[i]) > 1e-4 {
				t.Fatalf("%+v: col2im[%d] = %v, want %v", g, i, dx[i], want[i])
			}
		}
	}
}

func TestMaxPool2x2MatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, hw := range [][2]int{{28, 28}, {10, 10}, {5, 7}, {2, 2}} {
		g := ConvGeom{B: 3, C: 2, H: hw[0], W: hw[1], K: 2, S: 2}
		x := randT(rng, g.B, g.C, g.H, g.W)
		for i := 0; i < len(x.Data); i += 5 {
			x.Data[i] = x.Data[i/2] // plant ties
		}
		n := g.B * g.C * g.OutH() * g.OutW()
		o1, o2 := make([]float32, n), make([]float32, n)
		a1, a2 := make([]int32, n), make([]int32, n)
		MaxPool2D(o1, a1, x.Data, g)
		maxPool2DNaive(o2, a2, x.Data, g)
		closeEnough(t, "maxpool", o1, o2, 0)
		for i := range a1 {
			if a1[i] != a2[i] {
				t.Fatalf("%v: argmax %d = %d, reference %d", hw, i, a1[i], a2[i])
			}
		}
	}
}

func TestElementwiseKernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	x := randT(rng, 1037).Data
	x[0], x[1], x[2] = 0, float32(math.Copysign(0, -1)), float32(math.Inf(-1))
	y, yref := make([]float32, len(x)), make([]float32, len(x))
	ReLU(y, x)
	reluGo(yref, x)
	closeEnough(t, "relu", y, yref, 0)
	for i, v := range x {
		if want := float32(math.Max(float64(v), 0)); y[i] != want {
			t.Fatalf("relu(%v) = %v", v, y[i])
		}
	}
	dy := randT(rng, len(x)).Data
	for _, acc := range []bool{false, true} {
		dx, dref := randT(rng, len(x)).Data, make([]float32, len(x))
		copy(dref, dx)
		ReLUBackward(dx, dy, y, acc)
		reluBackwardGo(dref, dy, y, acc)
		closeEnough(t, "relu backward", dx, dref, 0)
	}
	b, o, p := 3, 4, 25
	tmp, bias := randT(rng, o*b*p).Data, randT(rng, o).Data
	out, ref := make([]float32, len(tmp)), make([]float32, len(tmp))
	ConvFromGEMM(out, tmp, bias, b, o, p)
	convFromGEMMGo(ref, tmp, bias, b, o, p)
	closeEnough(t, "conv from gemm", out, ref, 0)
	back := make([]float32, len(tmp))
	db := make([]float32, o)
	ConvToGEMM(back, out, db, b, o, p, false)
	for oc := 0; oc < o; oc++ {
		var s float64
		for i := 0; i < b*p; i++ {
			s += float64(tmp[oc*b*p+i] + bias[oc])
		}
		if math.Abs(float64(db[oc])-s) > 1e-3 {
			t.Fatalf("bias grad %d = %v, want %v", oc, db[oc], s)
		}
	}
	for i := range back {
		want := tmp[i] + bias[i/(b*p)]
		if back[i] != want {
			t.Fatalf("conv to gemm: %d = %v, want %v", i, back[i], want)
		}
	}
}

func TestConvDirectMatchesNaive(t *testing.T) {
	if !DirectConv {
		t.Skip("direct convolution is only in the cgo build")
	}
	rng := rand.New(rand.NewPCG(10, 10))
	for _, g := range []ConvGeom{
		{B: 3, C: 1, H: 28, W: 28, K: 5, S: 1, P: 2},
		{B: 2, C: 3, H: 9, W: 11, K: 3, S: 1, P: 0},
		{B: 1, C: 2, H: 5, W: 4, K: 3, S: 1, P: 1},
	} {
		o := 4
		x, w, bias := randT(rng, g.B, g.C, g.H, g.W), randT(rng, o, g.C, g.K, g.K), randT(rng, o)
		out := make([]float32, g.B*o*g.OutH()*g.OutW())
		ConvDirect(out, x.Data, w.Data, bias.Data, o, g)
		closeEnough(t, "direct conv", out, Conv2DNaive(x.Data, w.Data, bias.Data, o, g), 1e-4*float64(g.C*g.K*g.K))
		// Weight and bias gradients against the definition.
		dout := randT(rng, len(out)).Data
		dw, db := make([]float32, len(w.Data)), make([]float32, o)
		ConvDirectWeightGrad(dw, db, dout, x.Data, o, g, false)
		oh, ow := g.OutH(), g.OutW()
		for oc := 0; oc < o; oc++ {
			var sb float64
			for b := 0; b < g.B; b++ {
				for i := 0; i < oh*ow; i++ {
					sb += float64(dout[(b*o+oc)*oh*ow+i])
				}
			}
			if math.Abs(float64(db[oc])-sb) > 1e-3 {
				t.Fatalf("%+v: db[%d] = %v, want %v", g, oc, db[oc], sb)
			}
			for c := 0; c < g.C; c++ {
				for ki := 0; ki < g.K; ki++ {
					for kj := 0; kj < g.K; kj++ {
						var s float64
						for b := 0; b < g.B; b++ {
							for y := 0; y < oh; y++ {
								for xx := 0; xx < ow; xx++ {
									iy, ix := y+ki-g.P, xx+kj-g.P
									if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
										s += float64(dout[((b*o+oc)*oh+y)*ow+xx]) * float64(x.Data[((b*g.C+c)*g.H+iy)*g.W+ix])
									}
								}
							}
						}
						got := dw[((oc*g.C+c)*g.K+ki)*g.K+kj]
						if math.Abs(float64(got)-s) > 1e-3*(1+math.Abs(s)) {
							t.Fatalf("%+v: dw[%d,%d,%d,%d] = %v, want %v", g, oc, c, ki, kj, got, s)
						}
					}
				}
			}
		}
		// Accumulating adds on top.
		ConvDirectWeightGrad(dw, db, dout, x.Data, o, g, true)
		ref := make([]float32, len(dw))
		ConvDirectWeightGrad(ref, nil, dout, x.Data, o, g, false)
		for i := range dw {
			if math.Abs(float64(dw[i]-2*ref[i])) > 1e-3*(1+math.Abs(float64(ref[i]))) {
				t.Fatalf("accumulate: %v vs 2×%v", dw[i], ref[i])
			}
		}
	}
}
