package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/kiln-ml/kiln/store"
)

const lineageUsage = `usage: kiln lineage MODEL[@VERSION] [--json | --dot]
       kiln lineage --uses PATH|DATASET [--json | --dot]

The first form traces a model version back to the raw files: the stored
model, the run that registered it, the folder it came from, the training
run, its data, and the runs that produced that data. The second lists
everything derived from a data source (a recorded data set's every
version, or the artifacts recorded at, under or around a path): the runs
that read it, what they wrote, and the model versions made from it.
The tree is printed on a terminal; --json prints the graph's nodes and
edges, --dot a Graphviz graph (kiln lineage m@1 --dot | dot -Tsvg).
`

// runLineage runs `kiln lineage`.
func runLineage(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln lineage", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), lineageUsage+"\nFlags:\n"); fs.PrintDefaults() }
	uses := fs.String("uses", "", "list what was derived from this data set or path")
	asJSON := fs.Bool("json", false, "print the graph as one JSON document")
	dot := fs.Bool("dot", false, "print the graph in Graphviz DOT")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if *asJSON && *dot {
		return usageErr(stderr, "lineage: --json and --dot exclude each other")
	}
	if (*uses == "") == (len(pos) == 0) || len(pos) > 1 {
		return usageErr(stderr, "lineage: name one MODEL@VERSION, or --uses PATH|DATASET")
	}
	ctx := context.Background()
	s, err := openStore(ctx)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer s.Close()
	var g *store.Graph
	var src []store.Artifact
	if *uses != "" {
		src, err = s.Sources(ctx, *uses)
		if err != nil {
			return fail(stderr, "lineage: %v", err)
		}
		if g, err = s.Uses(ctx, src); err != nil {
			return fail(stderr, "lineage: %v", err)
		}
	} else {
		name, v, err := store.ParseModelRef(pos[0])
		if err != nil {
			return usageErr(stderr, "lineage: %v", err)
		}
		if g, err = s.Lineage(ctx, name, v); err != nil {
			return fail(stderr, "lineage: %v", err)
		}
	}
	switch {
	case *asJSON:
		return writeJSON(stdout, g)
	case *dot:
		err = g.WriteDOT(stdout)
	default:
		err = g.WriteTree(stdout)
		if err == nil && *uses != "" {
			fmt.Fprintln(stdout, usesSummary(g, src, *uses))
		}
	}
	if err != nil {
		return fail(stderr, "lineage: %v", err)
	}
	return exitOK
}

// usesSummary counts what the graph holds besides the sources themselves:
// "2 runs, 3 artifacts and 1 model version derived from NAME".
func usesSummary(g *store.Graph, src []store.Artifact, name string) string {
	isSource := map[int64]bool{}
	for _, a := range src {
		isSource[a.ID] = true
	}
	arts := 0
	for _, n := range g.Kinds("artifact") {
		if n.Artifact == nil || !isSource[n.Artifact.ID] {
			arts++
		}
	}
	return fmt.Sprintf("%s, %s and %s derived from %s", plural(len(g.Kinds("run")), "run"), plural(arts, "artifact"),
		plural(len(g.Kinds("model")), "model version"), name)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
