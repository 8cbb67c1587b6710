package tensor

import (
	"testing"

	"github.com/kiln-ml/kiln/tensor/blas/testblas"
)

// TestBackend runs the shared BLAS suite on the backend this test binary
// was built with (gonum by default, OpenBLAS with -tags openblas).
func TestBackend(t *testing.T) {
	be := Backend()
	if name := be.Name(); name != "gonum" && name != "openblas" {
		t.Fatalf("Backend().Name() = %q, want gonum or openblas", name)
	}
	t.Logf("backend %s", be.Name())
	defer SetThreads(1)
	testblas.TestSgemm(t, be)
}
