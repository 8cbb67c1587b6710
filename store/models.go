package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Model stages.
const (
	StageNone       = "none"
	StageStaging    = "staging"
	StageProduction = "production"
	StageArchived   = "archived"
)

// Stages lists the stages a model version can be in.
func Stages() []string { return []string{StageNone, StageStaging, StageProduction, StageArchived} }

// Model is one version of a named model.
type Model struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Version int64  `json:"version"`
	// Artifact is the model's files; Path is where they are.
	ArtifactID int64  `json:"artifact_id"`
	Hash       string `json:"hash"`
	Path       string `json:"path"`
	// RunID is the run that registered the version.
	RunID int64 `json:"run_id,omitempty"`
	// Source is the folder the version was registered from (the input of
	// its register run), "" when unknown.
	Source      string    `json:"source,omitempty"`
	Stage       string    `json:"stage"`
	Stale       bool      `json:"stale"`
	StaleReason string    `json:"stale_reason,omitempty"`
	Created     time.Time `json:"created"`
}

// Ref returns "NAME@VERSION".
func (m Model) Ref() string { return fmt.Sprintf("%s@%d", m.Name, m.Version) }

// RegisterModel records a new version of model name (one more than the
// highest so far, from 1) for artifact a, registered by run runID (0:
// none). A version whose content (a.Hash) is that of a stale version is
// stale too, with the reason naming it: registering the same weights
// again does not retrain them, so it must not take the model off the
// stale list.
func (s *Store) RegisterModel(ctx context.Context, name string, a Artifact, runID int64) (Model, error) {
	if name == "" || strings.ContainsAny(name, "@ \t\n") {
		return Model{}, fmt.Errorf("store: model name %q: want a non-empty name without '@' or spaces", name)
	}
	var run any
	if runID > 0 {
		run = runID
	}
	for attempt := 0; ; attempt++ {
		var id int64
		err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO models (name, version, artifact_id, run_id, created_at, stale, stale_reason)
			SELECT ?, (SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?), ?, ?, ?,
				CASE WHEN sm.id IS NULL THEN 0 ELSE 1 END, COALESCE(sm.reason, '')
			FROM (SELECT 1 AS one) x LEFT JOIN (
				SELECT m.id, 'the same content as stale ' || m.name || '@' || CAST(m.version AS TEXT) || ': ' || m.stale_reason AS reason
				FROM models m JOIN artifacts sa ON sa.id = m.artifact_id
				WHERE m.stale = 1 AND sa.hash = (SELECT hash FROM artifacts WHERE id = ?)
				ORDER BY m.id LIMIT 1) sm ON 1 = 1
			RETURNING id`),
			name, name, a.ID, run, now(), a.ID).Scan(&id)
		if err != nil {
			// Two PostgreSQL transactions may pick the same version; the
			// unique index turns one away and it tries again.
			if attempt < 20 && isUnique(err) {
				continue
			}
			return Model{}, s.wrap(err, "register model "+name)
		}
		ms, err := s.queryModels(ctx, "WHERE m.id = ?", id)
		if err != nil {
			return Model{}, err
		}
		return ms[0], nil
	}
}

// GetModel returns version v of model name; v = 0 means the latest.
func (s *Store) GetModel(ctx context.Context, name string, v int64) (Model, error) {
	var ms []Model
	var err error
	if v == 0 {
		ms, err = s.queryModels(ctx, "WHERE m.name = ? ORDER BY m.version DESC LIMIT 1", name)
	} else {
		ms, err = s.queryModels(ctx, "WHERE m.name = ? AND m.version = ?", name, v)
	}
	if err != nil {
		return Model{}, err
	}
	if len(ms) == 0 {
		if v == 0 {
			return Model{}, fmt.Errorf("store: no model %q: %w", name, ErrNotFound)
		}
		return Model{}, fmt.Errorf("store: no model %s@%d: %w", name, v, ErrNotFound)
	}
	return ms[0], nil
}

// ListModels returns every model version, by name and version; name ""
// lists all models.
func (s *Store) ListModels(ctx context.Context, name string) ([]Model, error) {
	if name != "" {
		return s.queryModels(ctx, "WHERE m.name = ? ORDER BY m.name, m.version", name)
	}
	return s.queryModels(ctx, "ORDER BY m.name, m.version")
}

// CheckStage returns an error naming the stages when stage is not one of
// Stages.
func CheckStage(stage string) error {
	for _, st := range Stages() {
		if st == stage {
			return nil
		}
	}
	return fmt.Errorf("store: unknown stage %q (%s)", stage, strings.Join(Stages(), ", "))
}

// PromoteModel moves version v of model name to stage. Promoting a
// version to production archives the version that was in production;
// concurrent promotions of one model are serialised, so that exactly one
// version ends in production.
func (s *Store) PromoteModel(ctx context.Context, name string, v int64, stage string) (Model, error) {
	if err := CheckStage(stage); err != nil {
		return Model{}, err
	}
	m, err := s.GetModel(ctx, name, v)
	if err != nil {
		return Model{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Model{}, s.wrap(err, "promote")
	}
	defer tx.Rollback()
	// Locking every version of the model first (in id order, so that two
	// promotions cannot deadlock) makes concurrent promotions of one model
	// run one after the other; without it, two PostgreSQL transactions
	// could each archive the production version they saw and both leave
	// theirs in production. SQLite has one writer at a time: a first write
	// takes its lock for the whole transaction.
	lock := "UPDATE models SET stage = stage WHERE name = ?"
	if s.pg {
		lock = "SELECT COUNT(*) FROM (SELECT id FROM models WHERE name = ? ORDER BY id FOR UPDATE) locked"
	}
	if _, err := tx.ExecContext(ctx, s.q(lock), name); err != nil {
		return Model{}, s.wrap(err, "promote")
	}
	if stage == StageProduction {
		if _, err := tx.ExecContext(ctx, s.q("UPDATE models SET stage = ? WHERE name = ? AND stage = ? AND id <> ?"),
			StageArchived, name, StageProduction, m.ID); err != nil {
			return Model{}, s.wrap(err, "promote")
		}
	}
	if _, err := tx.ExecContext(ctx, s.q("UPDATE models SET stage = ? WHERE id = ?"), stage, m.ID); err != nil {
		return Model{}, s.wrap(err, "promote")
	}
	if err := tx.Commit(); err != nil {
		return Model{}, s.wrap(err, "promote")
	}
	return s.GetModel(ctx, name, m.Version)
}

// MarkStale marks the model versions ids stale, saying why.
func (s *Store) MarkStale(ctx context.Context, ids []int64, reason string) error {
	for _, id := range ids {
		if _, err := s.db.ExecContext(ctx, s.q("UPDATE models SET stale = 1, stale_reason = ? WHERE id = ?"), reason, id); err != nil {
			return s.wrap(err, "mark stale")
		}
	}
	return nil
}

// StaleModels returns the model versions marked stale for which no later
// version of the same model is fresh: the models that still need
// retraining. A retrained model registered as a new version drops out.
func (s *Store) StaleModels(ctx context.Context) ([]Model, error) {
	return s.queryModels(ctx, `WHERE m.stale = 1 AND NOT EXISTS (
		SELECT 1 FROM models n WHERE n.name = m.name AND n.version > m.version AND n.stale = 0)
		ORDER BY m.name, m.version`)
}

func (s *Store) queryModels(ctx context.Context, where string, args ...any) ([]Model, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT m.id, m.name, m.version, m.artifact_id, a.hash, a.path, m.run_id, m.stage, m.stale, m.stale_reason, m.created_at,
		COALESCE((SELECT MIN(i.path) FROM edges e JOIN artifacts i ON i.id = e.artifact_id
			WHERE e.run_id = m.run_id AND e.direction = 'in' AND e.role = 'model'), '')
		FROM models m JOIN artifacts a ON a.id = m.artifact_id `+where), args...)
	if err != nil {
		return nil, s.wrap(err, "read models")
	}
	defer rows.Close()
	var out []Model
	for rows.Next() {
		var (
			m       Model
			run     sql.NullInt64
			stale   int
			created int64
		)
		if err := rows.Scan(&m.ID, &m.Name, &m.Version, &m.ArtifactID, &m.Hash, &m.Path, &run, &m.Stage, &stale, &m.StaleReason, &created, &m.Source); err != nil {
			return nil, s.wrap(err, "read models")
		}
		m.RunID, m.Stale, m.Created = run.Int64, stale != 0, fromMicros(created)
		out = append(out, m)
	}
	return out, s.wrap(rows.Err(), "read models")
}

// ParseModelRef splits "NAME@VERSION" (or "NAME", version 0: the latest).
func ParseModelRef(ref string) (string, int64, error) {
	name, ver, found := strings.Cut(ref, "@")
	if name == "" {
		return "", 0, fmt.Errorf("model %q: want NAME@VERSION", ref)
	}
	if !found {
		return name, 0, nil
	}
	var v int64
	if _, err := fmt.Sscanf(ver, "%d", &v); err != nil || v < 1 || fmt.Sprint(v) != ver {
		return "", 0, fmt.Errorf("model %q: version %q is not a positive integer", ref, ver)
	}
	return name, v, nil
}

// RegisterModelDir is `kiln models register`: it starts a run of kind
// "models.register" (spec gives its command line, parent and code
// version), copies the folder dir into the artifact directory (PutPath),
// records dir as its input and the copy as its output, registers that copy as the
// next version of model name and ends the run.
func (s *Store) RegisterModelDir(ctx context.Context, name, dir string, spec RunSpec) (m Model, err error) {
	spec.Kind = "models.register"
	if spec.Name == "" {
		spec.Name = name
	}
	run, err := s.StartRun(ctx, spec)
	if err != nil {
		return Model{}, err
	}
	defer func() {
		if eerr := run.End(ctx, err); err == nil && eerr != nil {
			err = eerr
		}
	}()
	// Copying the folder hashes it where it lies as well as the copy, so
	// recording it as the input reads it no third time.
	src, stored, err := s.putPath(dir)
	if err != nil {
		return Model{}, err
	}
	if src, err = s.insertArtifact(ctx, src); err != nil {
		return Model{}, err
	}
	if err = run.Use(ctx, src, "model"); err != nil {
		return Model{}, err
	}
	a, err := s.insertArtifact(ctx, stored)
	if err != nil {
		return Model{}, err
	}
	if err = run.Produce(ctx, a, "model"); err != nil {
		return Model{}, err
	}
	if err = run.SetParams(ctx, map[string]string{"model": name}); err != nil {
		return Model{}, err
	}
	return s.RegisterModel(ctx, name, a, run.ID())
}
