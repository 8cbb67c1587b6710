package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
)

// Edge directions in the edges table.
const (
	dirIn  = "in"
	dirOut = "out"
)

// Use records that the run consumed artifact a, in the given role
// ("data", "model", ...).
func (r *Run) Use(ctx context.Context, a Artifact, role string) error {
	return r.s.addEdge(ctx, r.id, a.ID, dirIn, role)
}

// Produce records that the run produced artifact a.
func (r *Run) Produce(ctx context.Context, a Artifact, role string) error {
	return r.s.addEdge(ctx, r.id, a.ID, dirOut, role)
}

// UsePath records the file or folder at path (RecordPath) as an input.
func (r *Run) UsePath(ctx context.Context, path, role string) (Artifact, error) {
	a, err := r.s.RecordPath(ctx, path)
	if err != nil {
		return Artifact{}, err
	}
	return a, r.Use(ctx, a, role)
}

// ProducePath records the file or folder at path (RecordPath) as an
// output.
func (r *Run) ProducePath(ctx context.Context, path, role string) (Artifact, error) {
	a, err := r.s.RecordPath(ctx, path)
	if err != nil {
		return Artifact{}, err
	}
	return a, r.Produce(ctx, a, role)
}

// AddLineage records that the run with the given id consumed (produced
// false) or produced artifact a, for a run another process recorded: a
// pipeline links a step's declared files to the run its step's process
// made, which cannot know all of them (its captured standard output).
// Linking what the run already names changes nothing.
func (s *Store) AddLineage(ctx context.Context, runID int64, a Artifact, produced bool, role string) error {
	dir := dirIn
	if produced {
		dir = dirOut
	}
	return s.addEdge(ctx, runID, a.ID, dir, role)
}

func (s *Store) addEdge(ctx context.Context, run, art int64, dir, role string) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO edges (run_id, artifact_id, direction, role) VALUES (?, ?, ?, ?)
		ON CONFLICT (run_id, artifact_id, direction) DO NOTHING`), run, art, dir, role)
	return s.wrap(err, fmt.Sprintf("record lineage of run %d", run))
}

// RunArtifact is an artifact a run consumed or produced, with its role.
type RunArtifact struct {
	Artifact
	Role string `json:"role,omitempty"`
}

// RunInputs returns the artifacts run id consumed.
func (s *Store) RunInputs(ctx context.Context, id int64) ([]RunArtifact, error) {
	return s.edgeArtifacts(ctx, id, dirIn)
}

// RunOutputs returns the artifacts run id produced.
func (s *Store) RunOutputs(ctx context.Context, id int64) ([]RunArtifact, error) {
	return s.edgeArtifacts(ctx, id, dirOut)
}

func (s *Store) edgeArtifacts(ctx context.Context, run int64, dir string) ([]RunArtifact, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT artifact_id, role FROM edges WHERE run_id = ? AND direction = ? ORDER BY artifact_id"), run, dir)
	if err != nil {
		return nil, s.wrap(err, "read lineage")
	}
	type ref struct {
		id   int64
		role string
	}
	var refs []ref
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.id, &r.role); err != nil {
			rows.Close()
			return nil, s.wrap(err, "read lineage")
		}
		refs = append(refs, r)
	}
	rows.Close()
	out := make([]RunArtifact, 0, len(refs))
	for _, r := range refs {
		a, err := s.GetArtifact(ctx, r.id)
		if err != nil {
			return nil, err
		}
		out = append(out, RunArtifact{Artifact: a, Role: r.role})
	}
	return out, nil
}

// runsOf returns the ids of the runs with an edge of direction dir to
// artifact art.
func (s *Store) runsOf(ctx context.Context, art int64, dir string) ([]int64, []string, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT run_id, role FROM edges WHERE artifact_id = ? AND direction = ? ORDER BY run_id"), art, dir)
	if err != nil {
		return nil, nil, s.wrap(err, "read lineage")
	}
	defer rows.Close()
	var ids []int64
	var roles []string
	for rows.Next() {
		var id int64
		var role string
		if err := rows.Scan(&id, &role); err != nil {
			return nil, nil, s.wrap(err, "read lineage")
		}
		ids, roles = append(ids, id), append(roles, role)
	}
	return ids, roles, s.wrap(rows.Err(), "read lineage")
}

// Node is a run, an artifact or a model in a lineage graph.
type Node struct {
	// ID is "run:N", "artifact:N" or "model:N".
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Label    string    `json:"label"`
	Run      *RunInfo  `json:"run,omitempty"`
	Artifact *Artifact `json:"artifact,omitempty"`
	// Datasets are the data set versions an artifact is.
	Datasets []Dataset `json:"datasets,omitempty"`
	Model    *Model    `json:"model,omitempty"`
}

// Edge goes the way data flowed: artifact → run that consumed it, run →
// artifact it produced, artifact → model registered from it.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Role string `json:"role,omitempty"`
}

// Graph is a lineage graph grown from Root, upstream (what Root was made
// from) or downstream (what was made from Root).
type Graph struct {
	Root      string `json:"root"`
	Direction string `json:"direction"`
	Nodes     []Node `json:"nodes"`
	Edges     []Edge `json:"edges"`

	index map[string]int
}

func (g *Graph) has(id string) bool { _, ok := g.index[id]; return ok }

func (g *Graph) add(n Node) bool {
	if g.index == nil {
		g.index = map[string]int{}
	}
	if g.has(n.ID) {
		return false
	}
	g.index[n.ID] = len(g.Nodes)
	g.Nodes = append(g.Nodes, n)
	return true
}

// Node returns the node with the given id.
func (g *Graph) Node(id string) (Node, bool) {
	if g.index == nil {
		g.reindex()
	}
	i, ok := g.index[id]
	if !ok {
		return Node{}, false
	}
	return g.Nodes[i], true
}

func (g *Graph) reindex() {
	g.index = map[string]int{}
	for i, n := range g.Nodes {
		g.index[n.ID] = i
	}
}

// Kinds returns the nodes of one kind ("run", "artifact", "model").
func (g *Graph) Kinds(kind string) []Node {
	var out []Node
	for _, n := range g.Nodes {
		if n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

func runNode(r *RunInfo) Node {
	label := fmt.Sprintf("run %d %s", r.ID, r.Kind)
	if r.Name != "" {
		label += " " + r.Name
	}
	return Node{ID: "run:" + strconv.FormatInt(r.ID, 10), Kind: "run", Label: label + " (" + string(r.Status) + ")", Run: r}
}

func (s *Store) artifactNode(ctx context.Context, a Artifact) (Node, error) {
	ds, err := s.queryDatasets(ctx, "WHERE d.artifact_id = ? ORDER BY d.id", a.ID)
	if err != nil {
		return Node{}, err
	}
	label := fmt.Sprintf("%s %s (sha256 %.12s, %d bytes)", a.Kind, a.Path, a.Hash, a.Size)
	for _, d := range ds {
		label += fmt.Sprintf(" [data set %s v%d]", d.Name, d.Version)
	}
	a2 := a
	return Node{ID: "artifact:" + strconv.FormatInt(a.ID, 10), Kind: "artifact", Label: label, Artifact: &a2, Datasets: ds}, nil
}

func modelNode(m Model) Node {
	label := fmt.Sprintf("model %s stage %s", m.Ref(), m.Stage)
	if m.Stale {
		label += " STALE"
	}
	return Node{ID: "model:" + strconv.FormatInt(m.ID, 10), Kind: "model", Label: label, Model: &m}
}

// Lineage returns the upstream graph of model name@v (v = 0: latest): its
// artifact, the run that produced it, that run's inputs, the runs that
// produced those, and so on back to artifacts no recorded run produced,
// the raw files.
func (s *Store) Lineage(ctx context.Context, name string, v int64) (*Graph, error) {
	m, err := s.GetModel(ctx, name, v)
	if err != nil {
		return nil, err
	}
	mn := modelNode(m)
	g := &Graph{Root: mn.ID, Direction: "upstream"}
	g.add(mn)
	a, err := s.GetArtifact(ctx, m.ArtifactID)
	if err != nil {
		return nil, err
	}
	if err := s.upstream(ctx, g, a); err != nil {
		return nil, err
	}
	g.Edges = append(g.Edges, Edge{From: "artifact:" + strconv.FormatInt(a.ID, 10), To: mn.ID, Role: "registered"})
	return g, nil
}

// ArtifactLineage returns the upstream graph of an artifact.
func (s *Store) ArtifactLineage(ctx context.Context, a Artifact) (*Graph, error) {
	g := &Graph{Root: "artifact:" + strconv.FormatInt(a.ID, 10), Direction: "upstream"}
	return g, s.upstream(ctx, g, a)
}

func (s *Store) upstream(ctx context.Context, g *Graph, a Artifact) error {
	an, err := s.artifactNode(ctx, a)
	if err != nil {
		return err
	}
	if !g.add(an) {
		return nil
	}
	runs, roles, err := s.runsOf(ctx, a.ID, dirOut)
	if err != nil {
		return err
	}
	for i, id := range runs {
		rid := "run:" + strconv.FormatInt(id, 10)
		g.Edges = append(g.Edges, Edge{From: rid, To: an.ID, Role: roles[i]})
		if g.has(rid) {
			continue
		}
		r, err := s.GetRun(ctx, id)
		if err != nil {
			return err
		}
		g.add(runNode(r))
		ins, err := s.RunInputs(ctx, id)
		if err != nil {
			return err
		}
		for _, in := range ins {
			if err := s.upstream(ctx, g, in.Artifact); err != nil {
				return err
			}
			g.Edges = append(g.Edges, Edge{From: "artifact:" + strconv.FormatInt(in.ID, 10), To: rid, Role: in.Role})
		}
	}
	return nil
}

// Uses returns the downstream graph of the given artifacts: every run that
// consumed one, every artifact those runs produced, and so on, with the
// model versions registered from any of them. Root is "sources".
func (s *Store) Uses(ctx context.Context, sources []Artifact) (*Graph, error) {
	g := &Graph{Root: "sources", Direction: "downstream"}
	g.add(Node{ID: "sources", Kind: "sources", Label: "sources"})
	for _, a := range sources {
		if err := s.downstream(ctx, g, a); err != nil {
			return nil, err
		}
		g.Edges = append(g.Edges, Edge{From: "sources", To: "artifact:" + strconv.FormatInt(a.ID, 10)})
	}
	return g, nil
}

func (s *Store) downstream(ctx context.Context, g *Graph, a Artifact) error {
	an, err := s.artifactNode(ctx, a)
	if err != nil {
		return err
	}
	if !g.add(an) {
		return nil
	}
	ms, err := s.queryModels(ctx, "WHERE m.artifact_id = ? ORDER BY m.id", a.ID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		mn := modelNode(m)
		g.add(mn)
		g.Edges = append(g.Edges, Edge{From: an.ID, To: mn.ID, Role: "registered"})
	}
	runs, roles, err := s.runsOf(ctx, a.ID, dirIn)
	if err != nil {
		return err
	}
	for i, id := range runs {
		rid := "run:" + strconv.FormatInt(id, 10)
		g.Edges = append(g.Edges, Edge{From: an.ID, To: rid, Role: roles[i]})
		if g.has(rid) {
			continue
		}
		r, err := s.GetRun(ctx, id)
		if err != nil {
			return err
		}
		g.add(runNode(r))
		outs, err := s.RunOutputs(ctx, id)
		if err != nil {
			return err
		}
		for _, out := range outs {
			if err := s.downstream(ctx, g, out.Artifact); err != nil {
				return err
			}
			g.Edges = append(g.Edges, Edge{From: rid, To: "artifact:" + strconv.FormatInt(out.ID, 10), Role: out.Role})
		}
	}
	return nil
}

// Sources resolves what `kiln lineage --uses` names: every version of the
// data set of that name, or else every artifact recorded at the path,
// under it (a folder), or holding it (a recorded folder the path is in).
func (s *Store) Sources(ctx context.Context, nameOrPath string) ([]Artifact, error) {
	ds, err := s.ListDatasets(ctx, nameOrPath)
	if err != nil {
		return nil, err
	}
	var out []Artifact
	seen := map[int64]bool{}
	for _, d := range ds {
		a, err := s.GetArtifact(ctx, d.ArtifactID)
		if err != nil {
			return nil, err
		}
		if !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	as, err := s.ArtifactsAt(ctx, nameOrPath)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(nameOrPath)
	holders, err := s.queryArtifacts(ctx, "WHERE kind = 'dir' AND ? LIKE path || '/%' ORDER BY id", abs)
	if err != nil {
		return nil, err
	}
	for _, a := range append(as, holders...) {
		if !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("store: %q is neither a recorded data set nor a recorded path: %w", nameOrPath, ErrNotFound)
	}
	return out, nil
}

// DerivedModels returns the model versions in the downstream graph of the
// given artifacts.
func (s *Store) DerivedModels(ctx context.Context, sources []Artifact) ([]Model, error) {
	g, err := s.Uses(ctx, sources)
	if err != nil {
		return nil, err
	}
	var ms []Model
	for _, n := range g.Kinds("model") {
		ms = append(ms, *n.Model)
	}
	return ms, nil
}
