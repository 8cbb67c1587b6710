// OpenBLAS's cblas_sgemm called directly from C: the ceiling that Kiln's
// openblas backend is measured against by run.sh.
//
// usage: direct N THREADS REPS
//
// It multiplies two N×N row-major float32 matrices (C = A·B) 3 times to warm
// up, then REPS times timed, checks two elements of C against a float64 dot
// product, and prints one JSON line with the median GFLOP/s (2N³ flops per
// call) and OpenBLAS's kernel set. The inputs are the same as the Go
// harness's (bench/sgemm/kiln).
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

// check returns 0 when C[i][j] matches a float64 dot product of row i of A
// and column j of B to float32 accuracy.
static int check(int n, const float *a, const float *b, const float *c, int i, int j) {
	double s = 0, sa = 0;
	for (int p = 0; p < n; p++) {
		s += (double)a[(long)i * n + p] * b[(long)p * n + j];
		sa += fabs((double)a[(long)i * n + p] * b[(long)p * n + j]);
	}
	if (fabs(c[(long)i * n + j] - s) > 2.0 * (n + 2) * 0x1p-24 * sa) {
		fprintf(stderr, "direct: C[%d][%d] = %g, want %g\n", i, j, c[(long)i * n + j], s);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: direct N THREADS REPS\n");
		return 2;
	}
	int n = atoi(argv[1]), threads = atoi(argv[2]), reps = atoi(argv[3]);
	if (n < 1 || threads < 1 || reps < 1) {
		fprintf(stderr, "direct: want N, THREADS and REPS >= 1, got %s %s %s\n", argv[1], argv[2], argv[3]);
		return 2;
	}
	openblas_set_num_threads(threads);
	// Page-aligned, as Go's allocator places slices this large.
	float *a, *b, *c;
	size_t size = sizeof(float) * n * n;
	if (posix_memalign((void **)&a, 4096, size) || posix_memalign((void **)&b, 4096, size) ||
	    posix_memalign((void **)&c, 4096, size)) {
		fprintf(stderr, "direct: cannot allocate 3 matrices of %zu bytes\n", size);
		return 1;
	}
	for (long i = 0; i < (long)n * n; i++) {
		a[i] = (float)(i % 7) * 0.1f - 0.3f;
		b[i] = (float)(i % 5) * 0.2f - 0.4f;
	}
	double *t = malloc(sizeof(double) * reps);
	for (int r = -3; r < reps; r++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (r >= 0)
			t[r] = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
	}
	if (check(n, a, b, c, 0, 0) || check(n, a, b, c, n - 1, n / 2))
		return 1;
	qsort(t, reps, sizeof(double), cmp);
	printf("{\"impl\":\"openblas-direct\",\"n\":%d,\"threads\":%d,\"core\":\"%s\",\"gflops\":%.3f}\n", n, threads,
	       openblas_get_corename(), 2.0 * n * n * n / t[reps / 2] / 1e9);
	return 0;
}
