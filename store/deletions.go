package store

import (
	"context"
	"path/filepath"
	"strconv"
	"time"
)

// Deletion is a recorded `kiln data delete`: the run, when it ended, and
// the file it rewrote with its content hash before and after.
type Deletion struct {
	RunID   int64     `json:"run_id"`
	Ended   time.Time `json:"ended"`
	Path    string    `json:"path"`
	OldHash string    `json:"old_hash"`
	NewHash string    `json:"new_hash"`
	Where   string    `json:"where"`
	Removed int64     `json:"removed_rows"`
}

// DeletionsAt returns the succeeded deletion runs (kind "data.delete")
// that rewrote a file at or under path, oldest first.
func (s *Store) DeletionsAt(ctx context.Context, path string) ([]Deletion, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT r.id, r.ended_at, a.path, a.hash FROM runs r
		JOIN edges e ON e.run_id = r.id AND e.direction = 'out'
		JOIN artifacts a ON a.id = e.artifact_id
		WHERE r.kind = 'data.delete' AND r.status = ? AND (a.path = ? OR a.path LIKE ? ESCAPE '\')
		ORDER BY r.id`), string(Succeeded), abs, likePrefix(abs)+"/%")
	if err != nil {
		return nil, s.wrap(err, "read deletions")
	}
	var out []Deletion
	for rows.Next() {
		var d Deletion
		var ended int64
		if err := rows.Scan(&d.RunID, &ended, &d.Path, &d.NewHash); err != nil {
			rows.Close()
			return nil, s.wrap(err, "read deletions")
		}
		d.Ended = fromMicros(ended)
		out = append(out, d)
	}
	rows.Close()
	for i := range out {
		r, err := s.GetRun(ctx, out[i].RunID)
		if err != nil {
			return nil, err
		}
		out[i].Where = r.Params["where"]
		out[i].OldHash = r.Params["old_hash"]
		out[i].Removed, _ = strconv.ParseInt(r.Params["removed_rows"], 10, 64)
	}
	return out, nil
}
