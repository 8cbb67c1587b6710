package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// EnvStore names the environment variable selecting the backend: a
// postgres:// (or postgresql://) DSN selects PostgreSQL, "off" disables
// recording in the commands, and nothing means SQLite in
// KILN_HOME/store.db. Any other value is refused by Open, so that a
// mistyped DSN never records into a SQLite file by accident.
const EnvStore = "KILN_STORE"

// EnvParentRun names the environment variable holding the id of the run
// that started this process (a pipeline passes it to its steps).
const EnvParentRun = "KILN_PARENT_RUN"

// StaleHeartbeat is how old, by default, the heartbeat of another host's
// running run must be before Open marks the run failed.
const StaleHeartbeat = 10 * time.Minute

// Options say where a store lives.
type Options struct {
	// Home is the folder holding store.db and artifacts/ (required).
	Home string
	// DSN, when it starts with postgres:// or postgresql://, selects
	// PostgreSQL; when empty the store is SQLite in Home/store.db; any
	// other value is an error.
	DSN string
	// FS is the filesystem artifact writes go through (default vfs.OS);
	// tests inject failures with internal/vfs/errorfs.
	FS vfs.FS
	// Heartbeat is how often a running run refreshes its heartbeat and
	// flushes its buffered metrics (default 1s).
	Heartbeat time.Duration
	// StaleAfter is how old the heartbeat of another host's running run
	// must be before Open marks it failed (default StaleHeartbeat).
	StaleAfter time.Duration
	// Host names this machine in the runs it records (default
	// os.Hostname); runs of this host are checked by process id.
	Host string
	// ConnectTimeout bounds how long Open waits for a PostgreSQL server
	// to answer (default 10s), so that an unreachable or silent server is
	// an error naming it rather than a hang.
	ConnectTimeout time.Duration
}

// Store is an open metadata store. It is safe for concurrent use.
type Store struct {
	db         *sql.DB
	pg         bool
	where      string // the database, for messages
	artifacts  string
	fs         vfs.FS
	heartbeat  time.Duration
	staleAfter time.Duration
	host       string
}

// IsPostgres reports whether dsn selects the PostgreSQL backend.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// OptionsFromEnv returns the options the commands use: Home is home, DSN
// is KILN_STORE unless it is empty or "off" (Open refuses a value that is
// not a PostgreSQL DSN).
func OptionsFromEnv(home string) Options {
	o := Options{Home: home}
	if v := os.Getenv(EnvStore); v != "off" {
		o.DSN = v
	}
	return o
}

// Disabled reports whether KILN_STORE=off asks the commands not to record.
func Disabled() bool { return os.Getenv(EnvStore) == "off" }

// ParentRunFromEnv returns the run id in KILN_PARENT_RUN, or 0 when unset.
func ParentRunFromEnv() (int64, error) {
	v := os.Getenv(EnvParentRun)
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive run id", EnvParentRun, v)
	}
	return id, nil
}

// Open opens (creating when absent) the store described by o, applies
// missing schema migrations and marks failed the runs whose processes died
// (see the package documentation). An existing file that is not a SQLite
// database, or a database newer than this code, is an error and is left
// untouched.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Home == "" {
		return nil, errors.New("store: Options.Home is empty")
	}
	if o.FS == nil {
		o.FS = vfs.OS
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = StaleHeartbeat
	}
	host := o.Host
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("store: hostname: %w", err)
		}
		host = h
	}
	if o.DSN != "" && !IsPostgres(o.DSN) {
		return nil, fmt.Errorf("store: %s=%q: want a postgres:// or postgresql:// DSN, \"off\", or nothing (SQLite in %s)",
			EnvStore, redactDSN(o.DSN), filepath.Join(o.Home, "store.db"))
	}
	var err error
	s := &Store{fs: o.FS, heartbeat: o.Heartbeat, staleAfter: o.StaleAfter, host: host, artifacts: filepath.Join(o.Home, "artifacts")}
	if IsPostgres(o.DSN) {
		s.pg = true
		s.where = redactDSN(o.DSN)
		if o.ConnectTimeout <= 0 {
			o.ConnectTimeout = 10 * time.Second
		}
		s.db, err = openPostgres(ctx, o.DSN, o.ConnectTimeout)
	} else {
		if err := os.MkdirAll(o.Home, 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		path := filepath.Join(o.Home, "store.db")
		s.where = path
		s.db, err = openSQLite(ctx, path)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, s.wrap(err, "migrate")
	}
	if err := s.reapDead(ctx); err != nil {
		s.db.Close()
		return nil, s.wrap(err, "mark dead runs failed")
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Where names the database: the SQLite file, or the PostgreSQL DSN
// without its password.
func (s *Store) Where() string { return s.where }

// Backend returns "sqlite" or "postgres".
func (s *Store) Backend() string {
	if s.pg {
		return "postgres"
	}
	return "sqlite"
}

// ArtifactDir returns the folder holding stored artifacts.
func (s *Store) ArtifactDir() string { return s.artifacts }

// q rewrites a query written with ? placeholders for the backend:
// PostgreSQL numbers them $1, $2, ...
func (s *Store) q(query string) string {
	if !s.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// wrap adds the store's location and the operation to err, and turns
// SQLite's corruption codes into a sentence saying what to do.
func (s *Store) wrap(err error, op string) error {
	if err == nil {
		return nil
	}
	if isCorrupt(err) {
		return &CorruptError{Path: s.where, Err: err}
	}
	return fmt.Errorf("store %s: %s: %w", s.where, op, err)
}

// CorruptError reports a store file that is not a usable database. The
// file is never modified or replaced.
type CorruptError struct {
	Path string
	Err  error
}

// Error says which file is corrupt and that it was not touched.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("store %s is corrupt or not a Kiln store (%v); it was left untouched: move it away to start a new store, or restore it from a backup", e.Path, e.Err)
}

// Unwrap returns the database's own error.
func (e *CorruptError) Unwrap() error { return e.Err }

func isCorrupt(err error) bool {
	var ce *CorruptError
	if errors.As(err, &ce) {
		return true
	}
	m := err.Error()
	return strings.Contains(m, "file is not a database") || strings.Contains(m, "malformed") ||
		strings.Contains(m, "SQLITE_CORRUPT") || strings.Contains(m, "SQLITE_NOTADB")
}

// redactDSN returns dsn with any password (in the user information or a
// password= parameter) replaced by xxx, for messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		if strings.Contains(dsn, "@") || strings.Contains(strings.ToLower(dsn), "password") {
			return "(a DSN that does not parse as a URL; not shown, it may hold a password)"
		}
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// now returns the current time in the store's unit, microseconds since
// the Unix epoch.
func now() int64 { return time.Now().UnixMicro() }

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// isUnique reports a unique-constraint violation (SQLite or PostgreSQL).
func isUnique(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "unique") || strings.Contains(m, "duplicate key")
}
