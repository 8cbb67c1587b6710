package gemm

// ScaleC sets the m×n matrix C (row stride ldc) to beta*C. With beta = 0 it
// writes zeros without reading C, so NaNs in C do not survive; with beta = 1
// it does nothing. Backends use it when k = 0 or alpha = 0, where BLAS
// defines the result as beta*C and does not read A or B.
func ScaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for r := 0; r < m; r++ {
		row := c[r*ldc : r*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
