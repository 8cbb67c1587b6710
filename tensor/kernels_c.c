//go:build openblas && cgo

// Convolution kernels in C, compiled with gcc's loop vectorisation (and an
// AVX2 clone chosen at load time) for the cgo build. They compute exactly
// what the Go kernels in conv.go compute; the tests compare them.

#include <string.h>

#define CLONES __attribute__((target_clones("avx2", "default")))

CLONES void kiln_im2col(float *restrict cols, const float *restrict x, int B, int C, int H, int W, int K, int S, int P) {
	int oh = (H + 2 * P - K) / S + 1, ow = (W + 2 * P - K) / S + 1;
	long np = (long)B * oh * ow, plane = (long)H * W;
	for (int c = 0; c < C; c++)
		for (int ki = 0; ki < K; ki++)
			for (int kj = 0; kj < K; kj++) {
				float *row = cols + ((long)(c * K + ki) * K + kj) * np;
				// output columns whose input column is inside [0, W)
				int lo = 0, hi = 0;
				if (P - kj > 0) lo = (P - kj + S - 1) / S;
				if (W - 1 + P - kj >= 0) hi = (W - 1 + P - kj) / S + 1;
				if (lo > ow) lo = ow;
				if (hi > ow) hi = ow;
				if (hi < lo) hi = lo;
				for (int b = 0; b < B; b++) {
					const float *src = x + ((long)b * C + c) * plane;
					float *dst = row + (long)b * oh * ow;
					for (int y = 0; y < oh; y++) {
						int iy = y * S - P + ki;
						float *d = dst + (long)y * ow;
						if (iy < 0 || iy >= H) {
							memset(d, 0, sizeof(float) * ow);
							continue;
						}
						const float *s = src + (long)iy * W;
						for (int xx = 0; xx < lo; xx++) d[xx] = 0;
						for (int xx = hi; xx < ow; xx++) d[xx] = 0;
						if (S == 1) {
							const float *sp = s - P + kj;
							for (int xx = lo; xx < hi; xx++) d[xx] = sp[xx];
						} else {
							for (int xx = lo; xx < hi; xx++) d[xx] = s[xx * S - P + kj];
						}
					}
				}
			}
}

CLONES void kiln_col2im(float *restrict dx, const float *restrict cols, int B, int C, int H, int W, int K, int S, int P) {
	int oh = (H + 2 * P - K) / S + 1, ow = (W + 2 * P - K) / S + 1;
	long np = (long)B * oh * ow, plane = (long)H * W, p = (long)oh * ow;
	for (int c = 0; c < C; c++)
		for (int b = 0; b < B; b++) {
			float *dst = dx + ((long)b * C + c) * plane;
			for (int ki = 0; ki < K; ki++)
				for (int kj = 0; kj < K; kj++) {
					const float *src = cols + ((long)(c * K + ki) * K + kj) * np + b * p;
					int lo = 0, hi = 0;
					if (P - kj > 0) lo = (P - kj + S - 1) / S;
					if (W - 1 + P - kj >= 0) hi = (W - 1 + P - kj) / S + 1;
					if (lo > ow) lo = ow;
					if (hi > ow) hi = ow;
					for (int y = 0; y < oh; y++) {
						int iy = y * S - P + ki;
						if (iy < 0 || iy >= H) continue;
						float *d = dst + (long)iy * W;
						const float *s = src + (long)y * ow;
						if (S == 1) {
							float *dp = d - P + kj;
							for (int xx = lo; xx < hi; xx++) dp[xx] += s[xx];
						} else {
							for (int xx = lo; xx < hi; xx++) d[xx * S - P + kj] += s[xx];
						}
					}
				}
		}
}

// kiln_maxpool2x2: 2×2 windows, stride 2, no padding; the first maximum in
// window order wins, as in the Go kernel.
CLONES void kiln_maxpool2x2(float *restrict out, int *restrict arg, const float *restrict x, int BC, int H, int W) {
	int oh = H / 2, ow = W / 2;
	for (long bc = 0; bc < BC; bc++) {
		const float *src = x + bc * H * W;
		float *o = out + bc * oh * ow;
		int *a = arg + bc * oh * ow;
		for (int y = 0; y < oh; y++) {
			const float *r0 = src + 2 * y * W, *r1 = r0 + W;
			for (int xx = 0; xx < ow; xx++) {
				float v0 = r0[2 * xx], v1 = r0[2 * xx + 1], v2 = r1[2 * xx], v3 = r1[2 * xx + 1];
				float m = v0;
				int bi = 0;
				if (v1 > m) { m = v1; bi = 1; }
				if (v2 > m) { m = v2; bi = W; }
				if (v3 > m) { m = v3; bi = W + 1; }
				o[y * ow + xx] = m;
				a[y * ow + xx] = 2 * y * W + 2 * xx + bi;
			}
		}
	}
}

CLONES void kiln_relu(float *restrict y, const float *restrict x, long n) {
	for (long i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

CLONES void kiln_relu_backward(float *restrict dx, const float *restrict dy, const float *restrict y, long n, int acc) {
	if (acc)
		for (long i = 0; i < n; i++) dx[i] += y[i] > 0 ? dy[i] : 0;
	else
		for (long i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

CLONES void kiln_conv_from_gemm(float *restrict out, const float *restrict tmp, const float *restrict bias, int B, int O, int P) {
	long np = (long)B * P;
	for (int b = 0; b < B; b++)
		for (int o = 0; o < O; o++) {
			float *d = out + ((long)b * O + o) * P;
			const float *s = tmp + (long)o * np + (long)b * P;
			float bv = bias ? bias[o] : 0;
			for (int i = 0; i < P; i++) d[i] = s[i] + bv;
		}
}

CLONES void kiln_conv_to_gemm(float *restrict dtmp, const float *restrict dout, int B, int O, int P) {
	long np = (long)B * P;
	for (int b = 0; b < B; b++)
		for (int o = 0; o < O; o++) memcpy(dtmp + (long)o * np + (long)b * P, dout + ((long)b * O + o) * P, sizeof(float) * P);
}

CLONES float kiln_sum(const float *restrict x, long n) {
	float acc[16] = {0};
	long i = 0;
	for (; i + 16 <= n; i += 16)
		for (int j = 0; j < 16; j++) acc[j] += x[i + j];
	float s = 0;
	for (; i < n; i++) s += x[i];
	for (int j = 0; j < 16; j++) s += acc[j];
	return s;
}
