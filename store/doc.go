// Package store is Kiln's metadata and lineage store: what every command
// read, ran and produced, so that any result can be traced back to its data,
// code and configuration, re-run, audited and deleted.
//
// It records
//   - runs: one per command (kiln train, kiln eval, a pipeline step...), with
//     the command line, configuration, code version (git commit and a dirty
//     flag), host, process id, start and end, status, parameters, and metrics
//     over steps, and the run that started it (KILN_PARENT_RUN);
//   - artifacts: files or folders with their SHA-256 content hash and size,
//     either recorded where they lie or copied into the content-addressed
//     artifact directory (KILN_HOME/artifacts);
//   - lineage edges: run ← consumed artifact, run → produced artifact;
//   - data sets: named, versioned artifacts with row count, schema and
//     statistics when known;
//   - models: a name, a version counting from 1, an artifact and a stage
//     (none, staging, production, archived), and a stale mark set when data
//     a model was derived from is deleted.
//
// Two backends share one code path through database/sql: SQLite (the
// default, modernc.org/sqlite, no cgo) in KILN_HOME/store.db, in WAL mode
// with a busy timeout so that several processes can record at once, and
// PostgreSQL when KILN_STORE holds a postgres:// DSN (jackc/pgx). The
// schema is created and upgraded by numbered migrations (migrate.go);
// every process applies the missing ones under a lock when it opens the
// store.
//
// Artifact files are written through internal/vfs: into a temporary file
// in the artifact directory, synced, renamed to their hash, so a reader
// never sees half a file. A folder is stored as one blob per file plus a
// manifest blob naming them, and is materialised (hard links into a
// temporary folder, renamed into place) only after every blob exists; its
// database row is written last. Layout under KILN_HOME:
//
//	store.db                    SQLite database (absent with PostgreSQL)
//	artifacts/blobs/ab/abcd…    file content, named by its SHA-256
//	artifacts/trees/ef01…/      a stored folder, named by its tree hash
//
// A folder's tree hash is the SHA-256 of its manifest: one line
// "<sha256 of file>  <size>  <slash-separated relative path>\n" per file, in
// byte order of the paths.
//
// A run whose process dies without ending it stays "running" until the
// next process opens the store: Open marks failed every running run of
// this host whose process (pid and its start time) no longer exists, and
// every run of another host whose heartbeat is older than StaleHeartbeat
// (Options.StaleAfter).
//
// Packages that record do not import store: they take a small interface
// (for example train's MetricLogger), and Recorder is the full interface a
// command records through; Discard records nothing. *Run implements both.
package store
