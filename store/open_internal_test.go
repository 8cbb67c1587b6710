package store

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
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

// TestOpenSilentPostgres: a server that accepts the connection and never
// answers is an error naming it after ConnectTimeout, not a hang.
func TestOpenSilentPostgres(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	dsn := "postgres://kiln:s3cret@" + ln.Addr().String() + "/db?sslmode=disable"
	t0 := time.Now()
	_, err = Open(context.Background(), Options{Home: t.TempDir(), DSN: dsn, ConnectTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) || !strings.Contains(err.Error(), "did not answer") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open against a silent server: %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("Open took %v", d)
	}
}
