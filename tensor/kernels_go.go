//go:build !openblas || !cgo

package tensor

// The pure-Go build runs the Go kernels of conv.go and elementwise.go.

// DirectConv is false in the pure-Go build: convolutions use im2col +
// GEMM.
const DirectConv = false

func im2colFast(cols, x []float32, g ConvGeom)                           { im2colGo(cols, x, g) }
func col2imFast(dx, cols []float32, g ConvGeom)                          { col2imGo(dx, cols, g) }
func maxPool2x2Fast(out []float32, arg []int32, x []float32, g ConvGeom) { maxPool2x2(out, arg, x, g) }

func reluFast(y, x []float32)                                { reluGo(y, x) }
func reluBackwardFast(dx, dy, y []float32, accumulate bool)  { reluBackwardGo(dx, dy, y, accumulate) }
func convFromGEMMFast(out, tmp, bias []float32, b, o, p int) { convFromGEMMGo(out, tmp, bias, b, o, p) }
func convToGEMMFast(dtmp, dout []float32, b, o, p int)       { convToGEMMGo(dtmp, dout, b, o, p) }

func sumFast(x []float32) float32 { return sumGo(x) }

// ConvDirect is only available in the cgo build (see DirectConv).
func ConvDirect(out, x, w, bias []float32, o int, g ConvGeom) {
	panic("tensor.ConvDirect: not in the pure-Go build")
}

// ConvDirectWeightGrad is only available in the cgo build.
func ConvDirectWeightGrad(dw, db, dout, x []float32, o int, g ConvGeom, accumulate bool) {
	panic("tensor.ConvDirectWeightGrad: not in the pure-Go build")
}
