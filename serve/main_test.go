package serve

import (
	"os"
	"testing"

	"github.com/kiln-ml/kiln/tensor"
)

// TestMain runs the tests with one BLAS thread, as kiln serve runs by
// default (--threads 1): a multi-threaded OpenBLAS spins on both CPUs
// during a large batch and would starve the other versions' batchers
// that the ensemble and overload tests time.
func TestMain(m *testing.M) {
	tensor.SetThreads(1)
	os.Exit(m.Run())
}
