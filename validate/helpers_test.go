package validate

import (
	"os"
	"path/filepath"
	"testing"
)

// testData returns a file under the shared data folder (KILN_TEST_DATA,
// default ../shared/data from the repository root) or skips; under
// CI=true a missing file fails the test.
func testData(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("KILN_TEST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test data %s not found: %v", p, err)
		}
		t.Skipf("test data %s not found (set KILN_TEST_DATA)", p)
	}
	return p
}
