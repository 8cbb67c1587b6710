// Package pipeline runs YAML DAGs of Kiln commands, caching each step's
// result by content hash, as DVC's `dvc repro` does for dvc.yaml stages.
//
// A pipeline file names its steps under steps:. Each step is a Kiln verb
// (kind: train, eval, data pull, models register, label fit, ...) with
// positional args, params passed as --key=value flags, and named inputs
// and outputs, which are paths:
//
//	vars:
//	  data: ${KILN_HOME}/datasets/mnist
//	steps:
//	  pull:
//	    kind: data pull
//	    args: [mnist]
//	    outputs: {dir: "${data}"}          # passed as --dir=PATH
//	  train:
//	    kind: train
//	    params: {hidden: [256, 128], lr: 0.04}
//	    inputs: {data-dir: "${data}"}      # read from pull: train runs after it
//	    outputs: {out: models/m}
//	  register:
//	    kind: models register
//	    args: [m, "${inputs.model}"]       # a port named in args is not passed as a flag
//	    inputs: {model: models/m}
//
// The edges are not written down: a step depends on another when one of
// its inputs is, lies inside, or holds one of the other's outputs. An
// input nothing produces must exist when the pipeline starts.
//
// The pieces, from pure to I/O:
//
//   - Parse (parse.go) reads the file through yaml.v3 nodes, so that every
//     problem carries its file:line:col; Validate (validate.go) checks the
//     DAG: unknown kinds, missing inputs, overlapping outputs and cycles
//     (named step by step). Both report every problem at once as an
//     ErrorList, before anything runs.
//   - The schedule (schedule.go) is pure: Levels, Cycles, Advance (which
//     pending steps may start, which are blocked by a failure) and
//     Descendants, tested against literal tables.
//   - StepKey (hash.go) hashes a step's kind, full command line, the
//     content of its inputs and the code version (CodeVersion: the commit
//     and dirty flag from the binary's build information and the binary's
//     own SHA-256). Cache (cache.go) keeps one JSON file per key under
//     KILN_HOME/pipeline/cache, written atomically, and reuses a result
//     only while each output still has its recorded content hash.
//   - Runner (runner.go) starts each step as a child process of the kiln
//     binary, independent steps at the same time up to Jobs, passes
//     KILN_PARENT_RUN, KILN_PIPELINE_STEP and KILN_CACHE_KEY in the
//     environment, and reports each step's state to a Recorder (the
//     store, through cmd/kiln) and to a Display (display.go): a live table
//     on a terminal, plain lines otherwise.
package pipeline
