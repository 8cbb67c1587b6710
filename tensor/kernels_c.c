//go:build openblas && cgo

// Convolution kernels in C, compiled with gcc's loop vectorisation (and an
// AVX2 clone chosen at load time) for the cgo build. They compute exactly
// what the Go kernels in conv.go compute; the tests compare them.

#include <string.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

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

// Direct stride-1 convolution on padded planes. Each input plane is copied
// once into a zero-padded plane of width Wp = W + 2P; an output plane is
// then accumulated at the same width, so that every kernel tap is one long
// contiguous multiply-add over OH·Wp values (which gcc vectorises well)
// instead of OH short rows. The Wp − OW extra columns per row hold garbage
// and are dropped (forward) or multiplied by zero (weight gradient).

#include <stdlib.h>

static float *kiln_pad_planes(const float *x, int C, int H, int W, int P, int K) {
	int Hp = H + 2 * P, Wp = W + 2 * P;
	long plane = (long)Hp * Wp + K; // slack: the last tap reads K−1 past the end
	float *xp = calloc((size_t)C * plane, sizeof(float));
	if (!xp) return NULL;
	for (int c = 0; c < C; c++)
		for (int y = 0; y < H; y++)
			memcpy(xp + c * plane + (long)(y + P) * Wp + P, x + ((long)c * H + y) * W, sizeof(float) * W);
	return xp;
}

// kiln_conv_direct: out (B, O, OH, OW) = x (B, C, H, W) ⋆ w (O, C, K, K) +
// bias, stride 1, zero padding P. Returns 0, or −1 when out of memory.
CLONES int kiln_conv_direct(float *restrict out, const float *restrict x, const float *restrict w, const float *restrict bias,
			    int B, int C, int H, int W, int O, int K, int P) {
	int Wp = W + 2 * P, OH = H + 2 * P - K + 1, OW = Wp - K + 1;
	long plane = (long)(H + 2 * P) * Wp + K, n = (long)OH * Wp;
	float *acc = malloc(sizeof(float) * n);
	if (!acc) return -1;
	for (int b = 0; b < B; b++) {
		float *xp = kiln_pad_planes(x + (long)b * C * H * W, C, H, W, P, K);
		if (!xp) {
			free(acc);
			return -1;
		}
		for (int o = 0; o < O; o++) {
			float bv = bias ? bias[o] : 0;
			for (long i = 0; i < n; i++) acc[i] = bv;
			for (int c = 0; c < C; c++)
				for (int ki = 0; ki < K; ki++) {
					const float *wr = w + (((long)o * C + c) * K + ki) * K;
					const float *restrict src = xp + c * plane + (long)ki * Wp;
					int kj = 0;
					// Four taps per pass: four multiply-adds per load and
					// store of the accumulator.
					for (; kj + 4 <= K; kj += 4) {
						float w0 = wr[kj], w1 = wr[kj + 1], w2 = wr[kj + 2], w3 = wr[kj + 3];
						const float *restrict s0 = src + kj;
						for (long i = 0; i < n; i++)
							acc[i] += w0 * s0[i] + w1 * s0[i + 1] + w2 * s0[i + 2] + w3 * s0[i + 3];
					}
					for (; kj < K; kj++) {
						float wv = wr[kj];
						const float *restrict s0 = src + kj;
						for (long i = 0; i < n; i++) acc[i] += wv * s0[i];
					}
				}
			float *dst = out + ((long)b * O + o) * OH * OW;
			for (int y = 0; y < OH; y++) memcpy(dst + (long)y * OW, acc + (long)y * Wp, sizeof(float) * OW);
		}
		free(xp);
	}
	free(acc);
	return 0;
}

// kiln_conv_direct_dw: the weight gradient of kiln_conv_direct,
// dw[o,c,ki,kj] (+)= Σ_b,y,x dout[b,o,y,x]·x[b,c,y+ki−P,x+kj−P], and the bias
// gradient db[o] (+)= Σ dout[b,o,·,·] when db is not NULL. Dot products run
// in 16 lanes so that gcc vectorises them without reassociating one sum.
CLONES int kiln_conv_direct_dw(float *restrict dw, float *restrict db, const float *restrict dout, const float *restrict x,
			       int B, int C, int H, int W, int O, int K, int P, int accumulate) {
	int Wp = W + 2 * P, OH = H + 2 * P - K + 1, OW = Wp - K + 1;
	long plane = (long)(H + 2 * P) * Wp + K, n = (long)OH * Wp;
	long nw = (long)O * C * K * K;
	float *dpad = calloc((size_t)n, sizeof(float));
	float *sums = calloc((size_t)nw * 16, sizeof(float));
	float *bsum = calloc((size_t)O * 16, sizeof(float));
	if (!dpad || !sums || !bsum) {
		free(dpad), free(sums), free(bsum);
		return -1;
	}
	for (int b = 0; b < B; b++) {
		float *xp = kiln_pad_planes(x + (long)b * C * H * W, C, H, W, P, K);
		if (!xp) {
			free(dpad), free(sums), free(bsum);
			return -1;
		}
		for (int o = 0; o < O; o++) {
			const float *d = dout + ((long)b * O + o) * OH * OW;
			for (int y = 0; y < OH; y++) memcpy(dpad + (long)y * Wp, d + (long)y * OW, sizeof(float) * OW);
			if (db) {
				float *bl = bsum + o * 16;
				long i = 0;
				for (; i + 16 <= n; i += 16)
					for (int l = 0; l < 16; l++) bl[l] += dpad[i + l];
				for (; i < n; i++) bl[0] += dpad[i];
			}
			for (int c = 0; c < C; c++)
				for (int ki = 0; ki < K; ki++) {
					const float *restrict src = xp + c * plane + (long)ki * Wp;
					float *lanes = sums + (((long)o * C + c) * K + ki) * K * 16;
					int kj = 0;
					for (; kj + 4 <= K; kj += 4) {
						// Four taps per pass share each load of dout.
						float l0[16] = {0}, l1[16] = {0}, l2[16] = {0}, l3[16] = {0};
						const float *restrict s0 = src + kj;
						long i = 0;
						for (; i + 16 <= n; i += 16)
							for (int l = 0; l < 16; l++) {
								float d = dpad[i + l];
								l0[l] += d * s0[i + l];
								l1[l] += d * s0[i + l + 1];
								l2[l] += d * s0[i + l + 2];
								l3[l] += d * s0[i + l + 3];
							}
						for (; i < n; i++) {
							l0[0] += dpad[i] * s0[i];
							l1[0] += dpad[i] * s0[i + 1];
							l2[0] += dpad[i] * s0[i + 2];
							l3[0] += dpad[i] * s0[i + 3];
						}
						for (int l = 0; l < 16; l++) {
							lanes[kj * 16 + l] += l0[l];
							lanes[(kj + 1) * 16 + l] += l1[l];
							lanes[(kj + 2) * 16 + l] += l2[l];
							lanes[(kj + 3) * 16 + l] += l3[l];
						}
					}
					for (; kj < K; kj++) {
						const float *restrict s0 = src + kj;
						float *lane = lanes + kj * 16;
						long i = 0;
						for (; i + 16 <= n; i += 16)
							for (int l = 0; l < 16; l++) lane[l] += dpad[i + l] * s0[i + l];
						for (; i < n; i++) lane[0] += dpad[i] * s0[i];
					}
				}
		}
		free(xp);
	}
	for (long j = 0; j < nw; j++) {
		float s = 0;
		for (int l = 0; l < 16; l++) s += sums[j * 16 + l];
		dw[j] = accumulate ? dw[j] + s : s;
	}
	if (db)
		for (int o = 0; o < O; o++) {
			float s = 0;
			for (int l = 0; l < 16; l++) s += bsum[o * 16 + l];
			db[o] = accumulate ? db[o] + s : s;
		}
	free(dpad), free(sums), free(bsum);
	return 0;
}
