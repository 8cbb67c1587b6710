package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/label"
)

const labelUsage = `usage: kiln label apply|analyze|fit|predict [flags]
  apply    run labeling functions (YAML, CEL) over CSV, JSON Lines or Parquet into a label matrix
  analyze  per-function polarity, coverage, overlaps, conflicts and (with gold labels) accuracy
  fit      fit a label model to a label matrix (or evaluate on a WRENCH folder with --wrench)
  predict  probabilistic labels from a fitted label model`

// runLabel is `kiln label`.
func runLabel(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, labelUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	verbs := map[string]func([]string, io.Writer, io.Writer) int{
		"apply": labelApply, "analyze": labelAnalyze, "fit": labelFit, "predict": labelPredict,
	}
	if fn, ok := verbs[args[0]]; ok {
		return recordLabel(args[0], args[1:], stdout, stderr, fn)
	}
	fmt.Fprintf(stderr, "kiln label: unknown verb %q\n%s\n", args[0], labelUsage)
	return exitUsage
}

// applyFiles compiles the spec and applies it to the data files in order.
func applyFiles(lfsPath, format string, workers int, files []string) (*label.Set, *label.Matrix, *label.ApplyStats, error) {
	set, err := label.LoadSpec(lfsPath)
	if err != nil {
		return nil, nil, nil, err
	}
	var parts []*label.Matrix
	total := &label.ApplyStats{Errors: make([]int, len(set.LFs)), FirstError: make([]string, len(set.LFs))}
	for _, f := range files {
		rr, err := label.OpenRecords(f, format)
		if err != nil {
			return nil, nil, nil, err
		}
		L, st, err := label.Apply(set, rr, label.ApplyOptions{Workers: workers})
		rr.Close()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		parts = append(parts, L)
		total.Rows += st.Rows
		for j := range st.Errors {
			total.Errors[j] += st.Errors[j]
			if total.FirstError[j] == "" && st.FirstError[j] != "" {
				total.FirstError[j] = f + ": " + st.FirstError[j]
			}
		}
	}
	L, err := label.Concat(parts...)
	if err != nil {
		return nil, nil, nil, err
	}
	return set, L, total, nil
}

func labelApply(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln label apply", flag.ContinueOnError)
	lfs := fs.String("lfs", "", "labeling functions (YAML)")
	out := fs.String("out", "", "write the label matrix here")
	format := fs.String("format", "", "csv, jsonl or parquet (default: from each file's extension)")
	workers := fs.Int("workers", 0, "goroutines applying functions (0: all cores)")
	asJSON := fs.Bool("json", false, "print one JSON document")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kiln label apply --lfs FILE [--out L.klm] DATA...\n\nExpression helpers:\n"+label.CELHelpers+"\n\nFlags:")
		fs.PrintDefaults()
	}
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if *lfs == "" || len(files) == 0 {
		return usageErr(stderr, "label apply: want --lfs FILE and at least one data file")
	}
	start := time.Now()
	set, L, st, err := applyFiles(*lfs, *format, *workers, files)
	if err != nil {
		return fail(stderr, "label apply: %v", err)
	}
	if *out != "" {
		if err := L.Save(*out); err != nil {
			return fail(stderr, "label apply: %v", err)
		}
	}
	an, err := label.Analyze(L, label.AnalyzeOptions{Stats: st})
	if err != nil {
		return fail(stderr, "label apply: %v", err)
	}
	type lfOut struct {
		Name       string  `json:"name"`
		Coverage   float64 `json:"coverage"`
		Errors     int     `json:"errors"`
		FirstError string  `json:"first_error,omitempty"`
	}
	doc := struct {
		Rows     int     `json:"rows"`
		Votes    int     `json:"votes"`
		Coverage float64 `json:"coverage"`
		Out      string  `json:"out,omitempty"`
		Seconds  float64 `json:"seconds"`
		LFs      []lfOut `json:"lfs"`
	}{Rows: L.N, Votes: L.NNZ(), Coverage: an.Coverage, Out: *out, Seconds: time.Since(start).Seconds()}
	for j, s := range an.LFs {
		doc.LFs = append(doc.LFs, lfOut{s.Name, s.Coverage, st.Errors[j], st.FirstError[j]})
	}
	if *asJSON {
		return writeJSON(stdout, doc)
	}
	fmt.Fprintf(stdout, "%d rows × %d labeling functions (%d classes: %s), %d votes, %.1f%% of rows covered, %.2fs\n",
		L.N, L.M, L.K, strings.Join(set.Classes, ", "), L.NNZ(), 100*an.Coverage, doc.Seconds)
	for _, l := range doc.LFs {
		fmt.Fprintf(stdout, "  %-28s coverage %6.2f%%  errors %d", l.Name, 100*l.Coverage, l.Errors)
		if l.FirstError != "" {
			fmt.Fprintf(stdout, "  (first: %s)", l.FirstError)
		}
		fmt.Fprintln(stdout)
	}
	if *out != "" {
		fmt.Fprintf(stdout, "wrote %s\n", *out)
	}
	return exitOK
}

// readGold reads the gold field of every record of the files, as class
// names or ids.
func readGold(files []string, format, field string, classes []string) ([]int, error) {
	idx := map[string]int{}
	for c, n := range classes {
		idx[n] = c
	}
	var gold []int
	for _, f := range files {
		recs, err := label.ReadAll(f, format)
		if err != nil {
			return nil, err
		}
		for i, r := range recs {
			v, ok := r[field]
			if !ok {
				return nil, fmt.Errorf("%s: record %d has no field %q", f, i, field)
			}
			s := strings.TrimSpace(fmt.Sprint(v))
			if c, ok := idx[s]; ok {
				gold = append(gold, c)
				continue
			}
			c, err := strconv.Atoi(s)
			if err != nil || c < 0 || c >= len(classes) {
				return nil, fmt.Errorf("%s: record %d: gold label %q is not one of the classes %v: %w", f, i, s, classes, label.ErrOutsideClasses)
			}
			gold = append(gold, c)
		}
	}
	return gold, nil
}

func labelAnalyze(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln label analyze", flag.ContinueOnError)
	lfs := fs.String("lfs", "", "labeling functions (YAML), applied to the data files")
	matrix := fs.String("matrix", "", "a label matrix saved by kiln label apply (instead of --lfs)")
	goldField := fs.String("gold-field", "", "field of the data files holding the true class (name or id): adds empirical accuracy")
	format := fs.String("format", "", "csv, jsonl or parquet (default: from the extension)")
	asJSON := fs.Bool("json", false, "print one JSON document")
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if (*lfs == "") == (*matrix == "") {
		return usageErr(stderr, "label analyze: want exactly one of --lfs FILE DATA... or --matrix L.klm")
	}
	if *lfs != "" && len(files) == 0 {
		return usageErr(stderr, "label analyze: --lfs needs data files")
	}
	if *goldField != "" && len(files) == 0 {
		return usageErr(stderr, "label analyze: --gold-field needs the data files")
	}
	var L *label.Matrix
	var st *label.ApplyStats
	var err error
	if *lfs != "" {
		_, L, st, err = applyFiles(*lfs, *format, 0, files)
	} else {
		L, err = label.LoadMatrix(*matrix)
	}
	if err != nil {
		return fail(stderr, "label analyze: %v", err)
	}
	opt := label.AnalyzeOptions{Stats: st}
	if *goldField != "" {
		if L.MultiLabel() {
			return usageErr(stderr, "label analyze: --gold-field supports multi-class matrices only")
		}
		classes := L.Classes
		if classes == nil {
			for c := 0; c < L.K; c++ {
				classes = append(classes, strconv.Itoa(c))
			}
		}
		if opt.Gold, err = readGold(files, *format, *goldField, classes); err != nil {
			return fail(stderr, "label analyze: %v", err)
		}
	}
	an, err := label.Analyze(L, opt)
	if err != nil {
		return fail(stderr, "label analyze: %v", err)
	}
	if *asJSON {
		return writeJSON(stdout, an)
	}
	if err := an.WriteTable(stdout, L.Classes); err != nil {
		return fail(stderr, "label analyze: %v", err)
	}
	return exitOK
}

// parseBalance parses "0.3,0.7".
func parseBalance(s string) ([]float64, error) {
	if s == "" {
		return nil, nil
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("class balance %q: %w", s, err)
		}
		out = append(out, x)
	}
	return out, nil
}

func newModel(name string, balance []float64, seed uint64, multi bool) (label.Model, error) {
	var mk func() label.Model
	switch name {
	case "mc", "matrix_completion", "snorkel":
		mk = func() label.Model { return &label.MatrixCompletion{Balance: balance, Seed: seed} }
	case "ds", "dawid_skene":
		mk = func() label.Model { return &label.DawidSkene{Balance: balance} }
	case "mv", "majority_vote":
		mk = func() label.Model { return &label.MajorityVote{} }
	default:
		return nil, fmt.Errorf("unknown label model %q (want mc, ds or mv)", name)
	}
	if multi {
		if balance != nil {
			return nil, errors.New("--class-balance does not apply to multi-label matrices")
		}
		return &label.MultiLabel{New: mk}, nil
	}
	return mk(), nil
}

func labelFit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln label fit", flag.ContinueOnError)
	matrix := fs.String("matrix", "", "label matrix saved by kiln label apply")
	wrench := fs.String("wrench", "", "evaluate on a folder in WRENCH's format (train/valid/test.json) instead")
	modelName := fs.String("model", "mc", "label model: mc (matrix completion, Snorkel's), ds (Dawid-Skene) or mv (majority vote)")
	balance := fs.String("class-balance", "", "fix the class balance, e.g. 0.3,0.7 (default: estimated)")
	out := fs.String("out", "", "write the fitted model here (JSON)")
	probs := fs.String("probs", "", "write the probabilistic labels here (JSON Lines; uncovered rows left out)")
	keep := fs.Bool("keep-uncovered", false, "keep rows no function voted on in --probs (they get the class balance)")
	seed := fs.Uint64("seed", 0, "seed of tie-breaking, triple sampling and the end model")
	asJSON := fs.Bool("json", false, "print one JSON document")
	endDir := fs.String("end-model", "", "also train an end model on the probabilistic labels of the covered rows and save it in this folder; the data files (the records the matrix was applied to, in order) follow the flags")
	textField := fs.String("text-field", "", "end model: featurize this text field (bag of words and n-grams)")
	columns := fs.String("columns", "", "end model: use these comma-separated columns as features instead (tabular)")
	ngrams := fs.Int("ngrams", 2, "end model: word n-grams 1..N")
	hidden := fs.String("hidden", "", "end model: hidden layer sizes, e.g. 32 (default: logistic regression)")
	epochs := fs.Int("epochs", 30, "end model: epochs")
	lr := fs.Float64("lr", 0.01, "end model: AdamW learning rate")
	wd := fs.Float64("weight-decay", 0, "end model: AdamW weight decay")
	seeds := fs.Int("seeds", 1, "end model: networks averaged, one per seed")
	format := fs.String("format", "", "end model data: csv, jsonl or parquet (default: from the extension)")
	validMatrix := fs.String("valid-matrix", "", "select the label model's configuration on this labeled validation matrix (with --valid-data and --gold-field)")
	validData := fs.String("valid-data", "", "comma-separated data files of the validation matrix, holding the gold labels")
	goldField := fs.String("gold-field", "", "field of --valid-data holding the true class (name or id)")
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	tb := label.TieBreak{Policy: label.TieRandom, Seed: *seed}
	if *endDir != "" && (len(files) == 0 || (*textField == "") == (*columns == "")) {
		return usageErr(stderr, "label fit: --end-model needs the data files and one of --text-field or --columns")
	}
	if *wrench != "" {
		if *matrix != "" {
			return usageErr(stderr, "label fit: --wrench and --matrix exclude each other")
		}
		train, valid, test, err := label.LoadWrench(*wrench)
		if err != nil {
			return fail(stderr, "label fit: %v", err)
		}
		res, err := label.EvaluateWrench(train, valid, test, tb, *seed)
		if err != nil {
			return fail(stderr, "label fit: %v", err)
		}
		if *asJSON {
			return writeJSON(stdout, res)
		}
		fmt.Fprintf(stdout, "%s: %d/%d/%d rows, %d labeling functions, %d classes\n", *wrench, res.Rows[0], res.Rows[1], res.Rows[2], res.Functions, res.Classes)
		fmt.Fprintf(stdout, "%-15s %9s %9s\n", "test", "accuracy", "F1")
		fmt.Fprintf(stdout, "%-15s %9.4f %9.4f\n", "majority vote", res.MajorityVoteAcc, res.MajorityVoteF1)
		fmt.Fprintf(stdout, "%-15s %9.4f %9.4f\n", "label model", res.LabelModelAcc, res.LabelModelF1)
		fmt.Fprintf(stdout, "label model: %s\nF1: %s\n%s\n", res.LabelModel, res.F1, res.TieBreak)
		return exitOK
	}
	if *matrix == "" {
		return usageErr(stderr, "label fit: want --matrix L.klm or --wrench DIR")
	}
	bal, err := parseBalance(*balance)
	if err != nil {
		return usageErr(stderr, "label fit: %v", err)
	}
	L, err := label.LoadMatrix(*matrix)
	if err != nil {
		return fail(stderr, "label fit: %v", err)
	}
	md, err := newModel(*modelName, bal, *seed, L.MultiLabel())
	if err != nil {
		return usageErr(stderr, "label fit: %v", err)
	}
	start := time.Now()
	var selected string
	var scores []label.Score
	if *validMatrix != "" {
		if *validData == "" || *goldField == "" || *modelName != "mc" || bal != nil || L.MultiLabel() {
			return usageErr(stderr, "label fit: --valid-matrix needs --valid-data and --gold-field, and applies to the mc model of a multi-class matrix without --class-balance")
		}
		md, selected, scores, err = selectOnValid(L, *validMatrix, strings.Split(*validData, ","), *format, *goldField, tb, *seed)
	} else {
		err = md.Fit(L)
	}
	if err != nil {
		return fail(stderr, "label fit: %v", err)
	}
	fitSeconds := time.Since(start).Seconds()
	if *out != "" {
		if err := label.SaveModel(*out, md); err != nil {
			return fail(stderr, "label fit: %v", err)
		}
	}
	p, err := md.PredictProba(L)
	if err != nil {
		return fail(stderr, "label fit: %v", err)
	}
	written := 0
	if *probs != "" {
		if written, err = writeProbs(*probs, L, p, tb, !*keep); err != nil {
			return fail(stderr, "label fit: %v", err)
		}
	}
	doc := map[string]any{"model": *modelName, "rows": L.N, "covered_rows": len(L.CoveredRows()),
		"class_balance": md.ClassBalance(), "fit_seconds": fitSeconds}
	if acc, ok := md.(interface{ Accuracies() []float64 }); ok {
		accs := map[string]float64{}
		for j, a := range acc.Accuracies() {
			accs[L.Names[j]] = a
		}
		doc["lf_accuracies"] = accs
	}
	if *probs != "" {
		doc["probs"], doc["probs_rows"] = *probs, written
	}
	if selected != "" {
		doc["selected"], doc["valid_scores"] = selected, scores
	}
	if *endDir != "" {
		hs, err := parseSizes(*hidden)
		if err != nil {
			return usageErr(stderr, "label fit: --hidden: %v", err)
		}
		cfg := endModelConfig{dir: *endDir, format: *format, textField: *textField, columns: *columns, ngrams: *ngrams,
			clf: label.NNClassifier{Hidden: hs, Epochs: *epochs, LR: *lr, WeightDecay: *wd, Seed: *seed}, seeds: *seeds}
		n, err := trainEndModel(cfg, files, L, p)
		if err != nil {
			return fail(stderr, "label fit: %v", err)
		}
		doc["end_model"], doc["end_model_rows"] = *endDir, n
	}
	if *asJSON {
		return writeJSON(stdout, doc)
	}
	fmt.Fprintf(stdout, "fitted %s on %d rows (%d covered) in %.3fs; class balance %.4f\n", *modelName, L.N, doc["covered_rows"], fitSeconds, md.ClassBalance())
	if selected != "" {
		fmt.Fprintf(stdout, "selected on the validation rows: %s\n", selected)
	}
	if accs, ok := doc["lf_accuracies"].(map[string]float64); ok {
		for _, n := range L.Names {
			fmt.Fprintf(stdout, "  %-28s estimated accuracy %.3f\n", n, accs[n])
		}
	}
	if *probs != "" {
		fmt.Fprintf(stdout, "wrote %d rows of probabilistic labels to %s\n", written, *probs)
	}
	if *endDir != "" {
		fmt.Fprintf(stdout, "trained the end model on %d covered rows; saved in %s\n", doc["end_model_rows"], *endDir)
	}
	return exitOK
}

// selectOnValid picks the matrix-completion configuration with the best
// accuracy on the labeled validation matrix (label.Select over
// label.MatrixCompletionGrid).
func selectOnValid(L *label.Matrix, validPath string, validFiles []string, format, goldField string, tb label.TieBreak, seed uint64) (label.Model, string, []label.Score, error) {
	V, err := label.LoadMatrix(validPath)
	if err != nil {
		return nil, "", nil, err
	}
	classes := V.Classes
	if classes == nil {
		for c := 0; c < V.K; c++ {
			classes = append(classes, strconv.Itoa(c))
		}
	}
	gold, err := readGold(validFiles, format, goldField, classes)
	if err != nil {
		return nil, "", nil, err
	}
	cands, err := label.MatrixCompletionGrid(gold, L.K, seed)
	if err != nil {
		return nil, "", nil, err
	}
	best, scores, err := label.Select(cands, L, V, gold, tb)
	if err != nil {
		return nil, "", nil, err
	}
	return cands[best].Model, cands[best].Name, scores, nil
}

type endModelConfig struct {
	dir, format, textField, columns string
	ngrams, seeds                   int
	clf                             label.NNClassifier
}

// parseSizes parses "64,32".
func parseSizes(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("size %q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// trainEndModel trains and saves the end model on the covered rows of L,
// whose records are read from the data files in order.
func trainEndModel(cfg endModelConfig, files []string, L *label.Matrix, p *label.Probs) (int, error) {
	if L.MultiLabel() {
		return 0, errors.New("the end model supports multi-class matrices only")
	}
	var recs []label.Record
	for _, f := range files {
		r, err := label.ReadAll(f, cfg.format)
		if err != nil {
			return 0, err
		}
		recs = append(recs, r...)
	}
	if len(recs) != L.N {
		return 0, fmt.Errorf("the data files hold %d records, the label matrix %d rows", len(recs), L.N)
	}
	rows, probs := label.FilterUncovered(L, p)
	kept := make([]label.Record, len(rows))
	for n, i := range rows {
		kept[n] = recs[i]
	}
	e := &label.EndModel{Classes: L.Classes}
	if cfg.textField != "" {
		e.Text = &label.TextFeaturizer{Field: cfg.textField, WordNGrams: cfg.ngrams, MinDF: 1, TFIDF: true, Shape: true}
	} else {
		e.Tabular = &label.TabularFeaturizer{Columns: strings.Split(cfg.columns, ",")}
	}
	if err := label.TrainEndModel(e, kept, probs, cfg.clf, cfg.seeds); err != nil {
		return 0, err
	}
	return len(rows), e.Save(cfg.dir)
}

// writeProbs writes the probabilistic labels to a file (see encodeProbs).
func writeProbs(path string, L *label.Matrix, p *label.Probs, tb label.TieBreak, dropUncovered bool) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := encodeProbs(f, L, p, tb, dropUncovered)
	if err != nil {
		f.Close()
		return 0, err
	}
	return n, f.Close()
}

// encodeProbs writes one JSON line per row: its index, probabilities and
// predicted class (or, multi-label, the classes at probability >= 0.5).
func encodeProbs(out io.Writer, L *label.Matrix, p *label.Probs, tb label.TieBreak, dropUncovered bool) (int, error) {
	w := bufio.NewWriter(out)
	var pred []int
	if !L.MultiLabel() {
		pred = label.Predict(p, tb)
	}
	n := 0
	for i := 0; i < L.N; i++ {
		if dropUncovered && !L.Covered(i) {
			continue
		}
		line := map[string]any{"row": i, "probs": p.Row(i), "covered": L.Covered(i)}
		if pred != nil {
			line["label"] = pred[i]
			if L.Classes != nil {
				line["class"] = L.Classes[pred[i]]
			}
		} else {
			var present []int
			for c, x := range p.Row(i) {
				if x >= 0.5 {
					present = append(present, c)
				}
			}
			line["labels"] = present
		}
		b, _ := json.Marshal(line)
		w.Write(append(b, '\n'))
		n++
	}
	return n, w.Flush()
}

func labelPredict(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln label predict", flag.ContinueOnError)
	modelPath := fs.String("model", "", "label model saved by kiln label fit --out")
	endDir := fs.String("end-model", "", "end model folder saved by kiln label fit --end-model: classify the data files with it")
	matrix := fs.String("matrix", "", "label matrix to label")
	lfs := fs.String("lfs", "", "labeling functions to apply to data files (instead of --matrix)")
	format := fs.String("format", "", "csv, jsonl or parquet (default: from the extension)")
	out := fs.String("out", "", "write JSON Lines here instead of stdout")
	keep := fs.Bool("keep-uncovered", true, "keep rows no function voted on (they get the class balance)")
	seed := fs.Uint64("seed", 0, "seed of tie-breaking")
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if *endDir != "" {
		if *modelPath != "" || len(files) == 0 {
			return usageErr(stderr, "label predict: --end-model takes data files and no --model")
		}
		return predictEndModel(*endDir, *format, *out, *seed, files, stdout, stderr)
	}
	if *modelPath == "" || (*matrix == "") == (*lfs == "") {
		return usageErr(stderr, "label predict: want --model FILE and one of --matrix L.klm or --lfs FILE DATA..., or --end-model DIR DATA...")
	}
	md, err := label.LoadModel(*modelPath)
	if err != nil {
		return fail(stderr, "label predict: %v", err)
	}
	var L *label.Matrix
	if *matrix != "" {
		L, err = label.LoadMatrix(*matrix)
	} else {
		_, L, _, err = applyFiles(*lfs, *format, 0, files)
	}
	if err != nil {
		return fail(stderr, "label predict: %v", err)
	}
	p, err := md.PredictProba(L)
	if err != nil {
		return fail(stderr, "label predict: %v", err)
	}
	tb := label.TieBreak{Policy: label.TieRandom, Seed: *seed}
	if *out != "" {
		_, err = writeProbs(*out, L, p, tb, !*keep)
	} else {
		_, err = encodeProbs(stdout, L, p, tb, !*keep)
	}
	if err != nil {
		return fail(stderr, "label predict: %v", err)
	}
	return exitOK
}

// predictEndModel writes one JSON line per record: its probabilities and
// predicted class.
func predictEndModel(dir, format, out string, seed uint64, files []string, stdout, stderr io.Writer) int {
	e, err := label.LoadEndModel(dir)
	if err != nil {
		return fail(stderr, "label predict: %v", err)
	}
	var recs []label.Record
	for _, f := range files {
		r, err := label.ReadAll(f, format)
		if err != nil {
			return fail(stderr, "label predict: %v", err)
		}
		recs = append(recs, r...)
	}
	p, err := e.PredictProba(recs)
	if err != nil {
		return fail(stderr, "label predict: %v", err)
	}
	w := stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return fail(stderr, "label predict: %v", err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	for i, c := range label.Predict(p, label.TieBreak{Policy: label.TieRandom, Seed: seed}) {
		line := map[string]any{"row": i, "probs": p.Row(i), "label": c}
		if c < len(e.Classes) {
			line["class"] = e.Classes[c]
		}
		b, _ := json.Marshal(line)
		bw.Write(append(b, '\n'))
	}
	if err := bw.Flush(); err != nil {
		return fail(stderr, "label predict: %v", err)
	}
	return exitOK
}
