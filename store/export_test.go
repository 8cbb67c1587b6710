package store

import (
	"database/sql"
	"path/filepath"
)

// InsertMigrationForTest records schema version v as applied.
func InsertMigrationForTest(home string, v int) error {
	db, err := sql.Open("sqlite", filepath.Join(home, "store.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)", v)
	return err
}

// WithMigrationForTest runs f with one more migration, numbered after the
// last, made of stmts.
func WithMigrationForTest(stmts []string, f func()) {
	saved := migrations
	defer func() { migrations = saved }()
	migrations = append(append([]migration(nil), saved...), migration{SchemaVersion() + 1, "test migration", stmts})
	f()
}
