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
