package store

import (
	"bufio"
	"fmt"
	"io"
)

// children returns the neighbours of id away from the root, with the
// edge roles: the sources of its incoming edges upstream, the targets of
// its outgoing edges downstream.
func (g *Graph) children(id string) ([]string, []string) {
	var out, roles []string
	seen := map[string]bool{}
	for _, e := range g.Edges {
		from, to := e.From, e.To
		if g.Direction == "upstream" {
			from, to = to, from
		}
		if from == id && !seen[to] {
			seen[to] = true
			out, roles = append(out, to), append(roles, e.Role)
		}
	}
	return out, roles
}

// WriteTree prints the graph as an indented tree from Root; a node
// reached a second time is printed once more with "(see above)" and not
// expanded again.
func (g *Graph) WriteTree(w io.Writer) error {
	if g.index == nil {
		g.reindex()
	}
	bw := bufio.NewWriter(w)
	shown := map[string]bool{}
	var walk func(id, prefix, branch, role string)
	walk = func(id, prefix, branch, role string) {
		n, _ := g.Node(id)
		label := n.Label
		if role != "" {
			label = "[" + role + "] " + label
		}
		if shown[id] {
			fmt.Fprintf(bw, "%s%s%s (see above)\n", prefix, branch, label)
			return
		}
		shown[id] = true
		fmt.Fprintf(bw, "%s%s%s\n", prefix, branch, label)
		kids, roles := g.children(id)
		next := prefix
		switch branch {
		case "├── ":
			next += "│   "
		case "└── ":
			next += "    "
		}
		for i, k := range kids {
			b := "├── "
			if i == len(kids)-1 {
				b = "└── "
			}
			walk(k, next, b, roles[i])
		}
	}
	walk(g.Root, "", "", "")
	return bw.Flush()
}

// WriteDOT prints the graph in Graphviz's DOT language, data flowing left
// to right: runs are boxes, artifacts notes, models double octagons.
func (g *Graph) WriteDOT(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph lineage {")
	fmt.Fprintln(bw, "  rankdir=LR;")
	for _, n := range g.Nodes {
		shape := map[string]string{"run": "box", "artifact": "note", "model": "doubleoctagon"}[n.Kind]
		if shape == "" {
			shape = "ellipse"
		}
		fmt.Fprintf(bw, "  %q [label=%q, shape=%s];\n", n.ID, n.Label, shape)
	}
	for _, e := range g.Edges {
		if e.Role != "" {
			fmt.Fprintf(bw, "  %q -> %q [label=%q];\n", e.From, e.To, e.Role)
		} else {
			fmt.Fprintf(bw, "  %q -> %q;\n", e.From, e.To)
		}
	}
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}
