package validate

import (
	"os"
	"testing"
)

// BenchmarkComputeCSV reads the CSV named by KILN_BENCH_CSV (a large file
// such as the taxi data generator's output) with one worker; it skips when
// the variable is unset or the file is missing.
func BenchmarkComputeCSV(b *testing.B) {
	path := os.Getenv("KILN_BENCH_CSV")
	if path == "" {
		b.Skip("KILN_BENCH_CSV not set")
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Skipf("benchmark data: %v", err)
	}
	b.SetBytes(st.Size())
	for i := 0; i < b.N; i++ {
		if _, err := ComputeFile(path, Options{Workers: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
