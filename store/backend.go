package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// sqliteBusyTimeout is how long a statement waits for another process's
// lock before it fails.
const sqliteBusyTimeout = 30 * time.Second

// sqliteMagic opens every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// openSQLite opens path in WAL mode with a busy timeout, writers taking
// the lock at BEGIN (so that two processes never deadlock upgrading a read
// lock), and checks that an existing file is a sound SQLite database
// before anything can write to it.
func openSQLite(ctx context.Context, path string) (*sql.DB, error) {
	if err := checkSQLiteFile(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()), "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	// A quick check reads every page once; a store of millions of metric
	// rows takes well under a second.
	var res string
	if err := firstQuery(ctx, db, &res); err != nil {
		db.Close()
		if isCorrupt(err) {
			return nil, &CorruptError{Path: path, Err: err}
		}
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if res != "ok" {
		db.Close()
		return nil, &CorruptError{Path: path, Err: fmt.Errorf("quick_check: %s", res)}
	}
	return db, nil
}

// firstQuery runs the quick check on a new connection. Opening a
// connection applies the pragmas, and switching a new database to WAL, or
// reading while another process initialises the WAL index, can return
// SQLITE_BUSY at once, without waiting in the busy handler (seen with
// eight processes creating one store at the same time). Those are
// retried with a growing pause for as long as the busy timeout would
// have waited.
func firstQuery(ctx context.Context, db *sql.DB, res *string) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	pause := time.Millisecond
	for {
		err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(res)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	m := err.Error()
	return strings.Contains(m, "SQLITE_BUSY") || strings.Contains(m, "database is locked")
}

// checkSQLiteFile returns a CorruptError when path exists, is not empty
// and does not start with SQLite's header; it only reads the file.
func checkSQLiteFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	n, err := io.ReadFull(f, head)
	if n == 0 && (err == io.EOF) {
		return nil // an empty file: SQLite makes a database of it
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("store %s: %w", path, err)
	}
	if !bytes.Equal(head[:n], sqliteMagic) {
		return &CorruptError{Path: path, Err: fmt.Errorf("the file does not start with the SQLite header (first bytes %q)", head[:n])}
	}
	return nil
}

// openPostgres connects through pgx's database/sql driver, waiting at
// most timeout for the server to answer.
func openPostgres(ctx context.Context, dsn string, timeout time.Duration) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", redactDSN(dsn), err)
	}
	db.SetMaxOpenConns(8)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		if pctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("store %s: the server did not answer within %v: %w", redactDSN(dsn), timeout, err)
		}
		return nil, fmt.Errorf("store %s: %w", redactDSN(dsn), err)
	}
	return db, nil
}
