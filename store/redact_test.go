package store

import (
	"context"
	"strings"
	"testing"
)

// TestRedactDSN: no password reaches a message, whether it is in the
// user information or a password= parameter, and the host stays visible.
func TestRedactDSN(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://kiln:s3cret@127.0.0.1:5432/db?sslmode=disable", "postgres://kiln:xxx@127.0.0.1:5432/db?sslmode=disable"},
		{"postgres://kiln@127.0.0.1/db", "postgres://kiln@127.0.0.1/db"},
		{"postgresql://h/db?user=kiln&password=s3cret", "postgresql://h/db?password=xxx&user=kiln"},
		{"postgres://u:p@h/db?options=a@b", "postgres://u:xxx@h/db?options=a@b"},
	} {
		got := redactDSN(c.in)
		if got != c.want || strings.Contains(got, "s3cret") {
			t.Errorf("redactDSN(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := redactDSN("host=h password=s3cret"); strings.Contains(got, "s3cret") {
		t.Errorf("a key=value DSN shows its password: %q", got)
	}
}

// TestOpenRefusesUnknownDSN: a KILN_STORE that is neither a PostgreSQL
// DSN nor off (a typo such as postgress://) is refused, naming the
// variable, instead of silently recording into a SQLite file.
func TestOpenRefusesUnknownDSN(t *testing.T) {
	home := t.TempDir()
	t.Setenv(EnvStore, "postgress://kiln:s3cret@127.0.0.1/db")
	_, err := Open(context.Background(), OptionsFromEnv(home))
	if err == nil || !strings.Contains(err.Error(), EnvStore) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open with a mistyped DSN: %v", err)
	}
	t.Setenv(EnvStore, "off")
	if o := OptionsFromEnv(home); o.DSN != "" {
		t.Fatalf("KILN_STORE=off gives DSN %q", o.DSN)
	}
	t.Setenv(EnvStore, "")
	s, err := Open(context.Background(), OptionsFromEnv(home))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
