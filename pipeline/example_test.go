package pipeline_test

import (
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/pipeline"
)

// A pipeline's DAG follows from its paths: train reads what pull writes,
// evaluate reads train's model, so they run in three levels; each step's
// command is the kind, its args, its params and its ports as flags.
func Example() {
	src := `vars:
  data: ${KILN_HOME}/datasets/mnist
steps:
  pull:
    kind: data pull
    args: [mnist]
    outputs: {dir: "${data}"}
  train:
    kind: train
    params: {hidden: [64], lr: 0.1}
    inputs: {data-dir: "${data}"}
    outputs: {out: models/m}
  evaluate:
    kind: eval
    inputs: {model: models/m, data-dir: "${data}"}
    stdout: eval.txt
`
	p, err := pipeline.Parse("p.yaml", []byte(src), pipeline.ParseOptions{Dir: "/work", Home: "/home/me/.kiln"})
	if err != nil {
		fmt.Println(err)
		return
	}
	g, err := pipeline.Validate(p, pipeline.ValidateOptions{Kinds: []string{"data pull", "train", "eval"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	levels, _ := pipeline.Levels(g.Deps)
	for l, steps := range levels {
		for _, i := range steps {
			fmt.Printf("%d %s: kiln %s\n", l, g.Steps[i].Name, strings.Join(g.Steps[i].Command(), " "))
		}
	}
	// A typo in a kind is caught with its line before anything runs.
	p, _ = pipeline.Parse("p.yaml", []byte(strings.Replace(src, "kind: eval", "kind: evaluate", 1)), pipeline.ParseOptions{Dir: "/work"})
	_, err = pipeline.Validate(p, pipeline.ValidateOptions{Kinds: []string{"data pull", "train", "eval"}})
	fmt.Println(err)
	// Output:
	// 0 pull: kiln data pull mnist --dir=/home/me/.kiln/datasets/mnist
	// 1 train: kiln train --hidden=64 --lr=0.1 --data-dir=/home/me/.kiln/datasets/mnist --out=/work/models/m
	// 2 evaluate: kiln eval --data-dir=/home/me/.kiln/datasets/mnist --model=/work/models/m
	// p.yaml:14:11: step "evaluate": unknown step kind "evaluate" (known: data pull, eval, train)
}
