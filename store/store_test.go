package store_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/kiln-ml/kiln/store"
	"github.com/kiln-ml/kiln/store/storetest"
)

// pg is the PostgreSQL server of this package's test run, nil when
// PostgreSQL is not installed.
var pg *storetest.Postgres

func TestMain(m *testing.M) {
	storetest.MaybeChild()
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run()) // fuzzing: no server for the fuzz workers
	}
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	var err error
	pg, err = storetest.StartPostgres()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "store tests: PostgreSQL is required under CI=true: %v\n", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "store tests: PostgreSQL tests will skip: %v\n", err)
		pg = nil
	}
	code := m.Run()
	if pg != nil {
		if err := pg.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

func TestSQLite(t *testing.T) {
	storetest.Suite(t, func(t *testing.T) store.Options {
		return store.Options{Home: t.TempDir()}
	})
}

func TestPostgres(t *testing.T) {
	if pg == nil {
		t.Skip("PostgreSQL is not installed (initdb, pg_ctl); these tests run under CI")
	}
	storetest.Suite(t, func(t *testing.T) store.Options {
		dsn, err := pg.NewDatabase(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return store.Options{Home: t.TempDir(), DSN: dsn}
	})
}
