package validate

import "testing"

// TestPct: the report's shares that round to none or all are not shown
// as such (2 missing values in 150,002 rows are not "0.00%").
func TestPct(t *testing.T) {
	for _, c := range []struct {
		a, b int64
		want string
	}{{0, 10, "0.00%"}, {2, 150002, "<0.01%"}, {150000, 150002, ">99.99%"}, {10, 10, "100.00%"}, {1, 3, "33.33%"}, {1, 0, "–"}} {
		if got := pct(c.a, c.b); got != c.want {
			t.Errorf("pct(%d, %d) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}
