//go:build openblas && cgo

package tensor

/*
#cgo CFLAGS: -O3
void kiln_im2col(float *cols, const float *x, int B, int C, int H, int W, int K, int S, int P);
void kiln_col2im(float *dx, const float *cols, int B, int C, int H, int W, int K, int S, int P);
void kiln_maxpool2x2(float *out, int *arg, const float *x, int BC, int H, int W);
void kiln_relu(float *y, const float *x, long n);
void kiln_relu_backward(float *dx, const float *dy, const float *y, long n, int acc);
void kiln_conv_from_gemm(float *out, const float *tmp, const float *bias, int B, int O, int P);
void kiln_conv_to_gemm(float *dtmp, const float *dout, int B, int O, int P);
float kiln_sum(const float *x, long n);
int kiln_conv_direct(float *out, const float *x, const float *w, const float *bias, int B, int C, int H, int W, int O, int K, int P);
int kiln_conv_direct_dw(float *dw, float *db, const float *dout, const float *x, int B, int C, int H, int W, int O, int K, int P, int accumulate);
*/
import "C"

import "unsafe"

// The cgo build runs the kernels of kernels_c.c, compiled by gcc
// (vectorised); the Go kernels stay the reference.

// DirectConv reports whether ConvDirect and ConvDirectWeightGrad run
// vectorised C; callers use them instead of im2col + GEMM where the
// input needs no gradient.
const DirectConv = true

func im2colFast(cols, x []float32, g ConvGeom) {
	n := g.C * g.K * g.K * g.B * g.OutH() * g.OutW()
	if n == 0 || len(x) < g.B*g.C*g.H*g.W || len(cols) < n {
		im2colGo(cols, x, g)
		return
	}
	C.kiln_im2col((*C.float)(unsafe.Pointer(&cols[0])), (*C.float)(unsafe.Pointer(&x[0])),
		C.int(g.B), C.int(g.C), C.int(g.H), C.int(g.W), C.int(g.K), C.int(g.S), C.int(g.P))
}

func col2imFast(dx, cols []float32, g ConvGeom) {
	n := g.C * g.K * g.K * g.B * g.OutH() * g.OutW()
	if n == 0 || len(dx) < g.B*g.C*g.H*g.W || len(cols) < n {
		col2imGo(dx, cols, g)
		return
	}
	C.kiln_col2im((*C.float)(unsafe.Pointer(&dx[0])), (*C.float)(unsafe.Pointer(&cols[0])),
		C.int(g.B), C.int(g.C), C.int(g.H), C.int(g.W), C.int(g.K), C.int(g.S), C.int(g.P))
}

func maxPool2x2Fast(out []float32, arg []int32, x []float32, g ConvGeom) {
	n := g.B * g.C * g.OutH() * g.OutW()
	if n == 0 || len(out) < n || len(arg) < n || len(x) < g.B*g.C*g.H*g.W {
		maxPool2x2(out, arg, x, g)
		return
	}
	C.kiln_maxpool2x2((*C.float)(unsafe.Pointer(&out[0])), (*C.int)(unsafe.Pointer(&arg[0])), (*C.float)(unsafe.Pointer(&x[0])),
		C.int(g.B*g.C), C.int(g.H), C.int(g.W))
}

func fp(s []float32) *C.float { return (*C.float)(unsafe.Pointer(&s[0])) }

func reluFast(y, x []float32) {
	if len(x) == 0 {
		return
	}
	_ = y[len(x)-1]
	C.kiln_relu(fp(y), fp(x), C.long(len(x)))
}

func reluBackwardFast(dx, dy, y []float32, accumulate bool) {
	if len(dx) == 0 {
		return
	}
	_, _ = dy[len(dx)-1], y[len(dx)-1]
	acc := C.int(0)
	if accumulate {
		acc = 1
	}
	C.kiln_relu_backward(fp(dx), fp(dy), fp(y), C.long(len(dx)), acc)
}

func convFromGEMMFast(out, tmp, bias []float32, b, o, p int) {
	n := b * o * p
	if n == 0 {
		return
	}
	_, _ = out[n-1], tmp[n-1]
	var bp *C.float
	if bias != nil {
		_ = bias[o-1]
		bp = fp(bias)
	}
	C.kiln_conv_from_gemm(fp(out), fp(tmp), bp, C.int(b), C.int(o), C.int(p))
}

func convToGEMMFast(dtmp, dout []float32, b, o, p int) {
	n := b * o * p
	if n == 0 {
		return
	}
	_, _ = dtmp[n-1], dout[n-1]
	C.kiln_conv_to_gemm(fp(dtmp), fp(dout), C.int(b), C.int(o), C.int(p))
}

func sumFast(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	return float32(C.kiln_sum(fp(x), C.long(len(x))))
}

// ConvDirect computes a stride-1 convolution directly: out (B, O, OH, OW)
// from x (B, C, H, W), w (O, C, K, K) and optional bias (O).
func ConvDirect(out, x, w, bias []float32, o int, g ConvGeom) {
	if g.S != 1 || len(out) < g.B*o*g.OutH()*g.OutW() || len(x) < g.B*g.C*g.H*g.W || len(w) < o*g.C*g.K*g.K || len(out) == 0 {
		panic("tensor.ConvDirect: bad geometry or short buffers")
	}
	var bp *C.float
	if bias != nil {
		_ = bias[o-1]
		bp = fp(bias)
	}
	if C.kiln_conv_direct(fp(out), fp(x), fp(w), bp, C.int(g.B), C.int(g.C), C.int(g.H), C.int(g.W), C.int(o), C.int(g.K), C.int(g.P)) != 0 {
		panic("tensor.ConvDirect: out of memory")
	}
}

// ConvDirectWeightGrad writes (or, with accumulate, adds) the weight
// gradient dw (O, C, K, K) and, when db is not nil, the bias gradient (O)
// of ConvDirect given the output gradient dout.
func ConvDirectWeightGrad(dw, db, dout, x []float32, o int, g ConvGeom, accumulate bool) {
	if g.S != 1 || len(dout) < g.B*o*g.OutH()*g.OutW() || len(x) < g.B*g.C*g.H*g.W || len(dw) < o*g.C*g.K*g.K || len(dout) == 0 {
		panic("tensor.ConvDirectWeightGrad: bad geometry or short buffers")
	}
	var bp *C.float
	if db != nil {
		_ = db[o-1]
		bp = fp(db)
	}
	acc := C.int(0)
	if accumulate {
		acc = 1
	}
	if C.kiln_conv_direct_dw(fp(dw), bp, fp(dout), fp(x), C.int(g.B), C.int(g.C), C.int(g.H), C.int(g.W), C.int(o), C.int(g.K), C.int(g.P), acc) != 0 {
		panic("tensor.ConvDirectWeightGrad: out of memory")
	}
}
