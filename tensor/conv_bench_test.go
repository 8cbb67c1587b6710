package tensor

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkMaxPool2x2LeNet1(b *testing.B) {
	g := ConvGeom{B: 64, C: 6, H: 28, W: 28, K: 2, S: 2}
	rng := rand.New(rand.NewPCG(1, 1))
	x := randT(rng, 64, 6, 28, 28)
	for i := range x.Data {
		x.Data[i] = max(x.Data[i], 0)
	}
	out := make([]float32, 64*6*14*14)
	arg := make([]int32, len(out))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		MaxPool2D(out, arg, x.Data, g)
	}
}

func BenchmarkIm2ColLeNet1(b *testing.B) {
	g := ConvGeom{B: 64, C: 1, H: 28, W: 28, K: 5, S: 1, P: 2}
	rng := rand.New(rand.NewPCG(1, 1))
	x := randT(rng, 64, 1, 28, 28)
	cols := make([]float32, 25*64*784)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Im2Col(cols, x.Data, g)
	}
}
func BenchmarkCol2ImLeNet2(b *testing.B) {
	g := ConvGeom{B: 64, C: 6, H: 14, W: 14, K: 5, S: 1, P: 0}
	rng := rand.New(rand.NewPCG(1, 1))
	cols := randT(rng, 150*64*100)
	dx := make([]float32, 64*6*14*14)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Col2Im(dx, cols.Data, g)
	}
}

func BenchmarkIm2ColLeNet2(b *testing.B) {
	g := ConvGeom{B: 64, C: 6, H: 14, W: 14, K: 5, S: 1, P: 0}
	rng := rand.New(rand.NewPCG(1, 1))
	x := randT(rng, 64, 6, 14, 14)
	cols := make([]float32, 150*64*100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Im2Col(cols, x.Data, g)
	}
}

func BenchmarkConvDirectLeNet1(b *testing.B) {
	if !DirectConv {
		b.Skip()
	}
	g := ConvGeom{B: 64, C: 1, H: 28, W: 28, K: 5, S: 1, P: 2}
	rng := rand.New(rand.NewPCG(1, 1))
	x, w := randT(rng, 64, 1, 28, 28), randT(rng, 6, 1, 5, 5)
	out := make([]float32, 64*6*784)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ConvDirect(out, x.Data, w.Data, nil, 6, g)
	}
}

func BenchmarkConvDirectWeightGradLeNet1(b *testing.B) {
	if !DirectConv {
		b.Skip()
	}
	g := ConvGeom{B: 64, C: 1, H: 28, W: 28, K: 5, S: 1, P: 2}
	rng := rand.New(rand.NewPCG(1, 1))
	x, dout := randT(rng, 64, 1, 28, 28), randT(rng, 64*6*784)
	dw, db := make([]float32, 150), make([]float32, 6)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ConvDirectWeightGrad(dw, db, dout.Data, x.Data, 6, g, false)
	}
}
