package main

import (
	"testing"

	"github.com/kiln-ml/kiln/store"
)

// TestUsesSummary: the count under kiln lineage --uses leaves out the
// sources themselves and speaks English for one.
func TestUsesSummary(t *testing.T) {
	src := []store.Artifact{{ID: 1}}
	g := &store.Graph{Nodes: []store.Node{
		{ID: "artifact:1", Kind: "artifact", Artifact: &store.Artifact{ID: 1}},
		{ID: "run:2", Kind: "run"},
		{ID: "artifact:3", Kind: "artifact", Artifact: &store.Artifact{ID: 3}},
		{ID: "run:4", Kind: "run"},
		{ID: "model:1", Kind: "model"},
	}}
	if got, want := usesSummary(g, src, "people"), "2 runs, 1 artifact and 1 model version derived from people"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if got, want := usesSummary(&store.Graph{}, nil, "x"), "0 runs, 0 artifacts and 0 model versions derived from x"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
