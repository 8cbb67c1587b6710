// OpenBLAS's cblas_sgemm called directly from C: the ceiling that Kiln's
// openblas backend is compared with. usage: direct N THREADS REPS
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void openblas_set_num_threads(int);

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1024, threads = argc > 2 ? atoi(argv[2]) : 1, reps = argc > 3 ? atoi(argv[3]) : 15;
	openblas_set_num_threads(threads);
	// 4 KiB alignment, as Go's allocator gives slices this large.
	float *a, *b, *c;
	if (posix_memalign((void **)&a, 4096, sizeof(float) * n * n) || posix_memalign((void **)&b, 4096, sizeof(float) * n * n) ||
	    posix_memalign((void **)&c, 4096, sizeof(float) * n * n))
		return 1;
	for (long i = 0; i < (long)n * n; i++) {
		a[i] = (float)(i % 7) * 0.1f;
		b[i] = (float)(i % 5) * 0.2f;
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
	qsort(t, reps, sizeof(double), cmp);
	printf("{\"impl\":\"openblas-direct\",\"n\":%d,\"threads\":%d,\"gflops\":%.3f}\n", n, threads, 2.0 * n * n * n / t[reps / 2] / 1e9);
	return 0;
}
