package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Dataset is one version of a named data set: an artifact with what is
// known of its rows.
type Dataset struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Version int64  `json:"version"`
	// ArtifactID is the data's file or folder; Hash and Path are its.
	ArtifactID int64  `json:"artifact_id"`
	Hash       string `json:"hash"`
	Path       string `json:"path"`
	// RunID is the run that produced this version (0: unknown).
	RunID int64 `json:"run_id,omitempty"`
	// Source says where the data came from (a mirror, a folder).
	Source string `json:"source,omitempty"`
	// Rows is the number of records, -1 when unknown.
	Rows int64 `json:"rows"`
	// Schema and Stats are JSON documents when known.
	Schema  json.RawMessage `json:"schema,omitempty"`
	Stats   json.RawMessage `json:"stats,omitempty"`
	Created time.Time       `json:"created"`
}

// RecordDataset records d (Name, ArtifactID, RunID, Source, Rows, Schema,
// Stats) as the next version of data set d.Name, unless the latest version
// already has the same artifact, which is then returned.
func (s *Store) RecordDataset(ctx context.Context, d Dataset) (Dataset, error) {
	if d.Name == "" {
		return Dataset{}, fmt.Errorf("store: record data set: empty name")
	}
	if last, err := s.GetDataset(ctx, d.Name, 0); err == nil && last.ArtifactID == d.ArtifactID {
		return last, nil
	}
	var run any
	if d.RunID > 0 {
		run = d.RunID
	}
	for attempt := 0; ; attempt++ {
		var id int64
		err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO datasets (name, version, artifact_id, run_id, source, row_count, schema_json, stats_json, created_at)
			VALUES (?, (SELECT COALESCE(MAX(version), 0) + 1 FROM datasets WHERE name = ?), ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			d.Name, d.Name, d.ArtifactID, run, d.Source, d.Rows, string(d.Schema), string(d.Stats), now()).Scan(&id)
		if err != nil {
			if attempt < 20 && isUnique(err) {
				continue
			}
			return Dataset{}, s.wrap(err, "record data set "+d.Name)
		}
		ds, err := s.queryDatasets(ctx, "WHERE d.id = ?", id)
		if err != nil {
			return Dataset{}, err
		}
		return ds[0], nil
	}
}

// GetDataset returns version v of data set name; v = 0 means the latest.
func (s *Store) GetDataset(ctx context.Context, name string, v int64) (Dataset, error) {
	var ds []Dataset
	var err error
	if v == 0 {
		ds, err = s.queryDatasets(ctx, "WHERE d.name = ? ORDER BY d.version DESC LIMIT 1", name)
	} else {
		ds, err = s.queryDatasets(ctx, "WHERE d.name = ? AND d.version = ?", name, v)
	}
	if err != nil {
		return Dataset{}, err
	}
	if len(ds) == 0 {
		return Dataset{}, fmt.Errorf("store: no data set %q: %w", name, ErrNotFound)
	}
	return ds[0], nil
}

// ListDatasets returns every version of every data set (name "") or of
// one, by name and version.
func (s *Store) ListDatasets(ctx context.Context, name string) ([]Dataset, error) {
	if name != "" {
		return s.queryDatasets(ctx, "WHERE d.name = ? ORDER BY d.version", name)
	}
	return s.queryDatasets(ctx, "ORDER BY d.name, d.version")
}

func (s *Store) queryDatasets(ctx context.Context, where string, args ...any) ([]Dataset, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT d.id, d.name, d.version, d.artifact_id, a.hash, a.path, d.run_id, d.source, d.row_count, d.schema_json, d.stats_json, d.created_at
		FROM datasets d JOIN artifacts a ON a.id = d.artifact_id `+where), args...)
	if err != nil {
		return nil, s.wrap(err, "read data sets")
	}
	defer rows.Close()
	var out []Dataset
	for rows.Next() {
		var (
			d             Dataset
			run           sql.NullInt64
			schema, stats string
			created       int64
		)
		if err := rows.Scan(&d.ID, &d.Name, &d.Version, &d.ArtifactID, &d.Hash, &d.Path, &run, &d.Source, &d.Rows, &schema, &stats, &created); err != nil {
			return nil, s.wrap(err, "read data sets")
		}
		d.RunID, d.Created = run.Int64, fromMicros(created)
		if schema != "" {
			d.Schema = json.RawMessage(schema)
		}
		if stats != "" {
			d.Stats = json.RawMessage(stats)
		}
		out = append(out, d)
	}
	return out, s.wrap(rows.Err(), "read data sets")
}
