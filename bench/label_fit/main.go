// Command label_fit times fitting Kiln's matrix-completion label model to a
// synthetic label matrix: N rows × M binary labeling functions, each
// covering COVERAGE of the rows with an accuracy drawn uniformly from
// [0.55, 0.95], balanced classes. It reports the median fit time over
// -reps fits (the matrix is generated once, outside the timing), how far
// the learned accuracies are from the true ones, and the accuracy of
// majority vote and the label model against the ground truth. Snorkel
// 0.10's LabelModel.fit takes 4.5 s on this machine on such a matrix (the
// figure the issue gives; PyPI is not reachable here to rerun it). The
// last line of output is one JSON object.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/kiln-ml/kiln/label"
)

const snorkelSeconds = 4.5

func main() {
	n := flag.Int("n", 1_000_000, "rows")
	m := flag.Int("m", 100, "labeling functions")
	cov := flag.Float64("coverage", 0.1, "fraction of rows each function labels")
	reps := flag.Int("reps", 5, "fits to time (median reported)")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()

	rng := rand.New(rand.NewPCG(*seed, 99))
	accs := make([]float64, *m)
	covs := make([]float64, *m)
	for j := range accs {
		accs[j] = 0.55 + 0.4*rng.Float64()
		covs[j] = *cov
	}
	t0 := time.Now()
	L, gold, err := label.Synthesize(label.SynthConfig{N: *n, ClassBalance: []float64{0.5, 0.5}, Accuracies: accs, Coverage: covs, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "label_fit:", err)
		os.Exit(1)
	}
	fmt.Printf("synthetic matrix %d × %d, %d votes, generated in %.2fs; %d cores (GOMAXPROCS %d)\n",
		L.N, L.M, L.NNZ(), time.Since(t0).Seconds(), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	var times []float64
	var mc *label.MatrixCompletion
	for r := 0; r < *reps; r++ {
		mc = &label.MatrixCompletion{Seed: *seed}
		runtime.GC()
		start := time.Now()
		if err := mc.Fit(L); err != nil {
			fmt.Fprintln(os.Stderr, "label_fit:", err)
			os.Exit(1)
		}
		times = append(times, time.Since(start).Seconds())
		fmt.Printf("fit %d: %.3fs\n", r+1, times[r])
	}
	sort.Float64s(times)
	med := times[len(times)/2]
	maxErr := 0.0
	for j, a := range mc.Accuracies() {
		maxErr = math.Max(maxErr, math.Abs(a-accs[j]))
	}
	tb := label.TieBreak{Policy: label.TieRandom, Seed: *seed}
	mv := &label.MajorityVote{}
	mv.Fit(L)
	pmv, _ := mv.PredictProba(L)
	plm, _ := mc.PredictProba(L)
	out := map[string]any{
		"bench":               "label_fit",
		"rows":                L.N,
		"functions":           L.M,
		"fit_seconds":         round(med, 4),
		"fit_seconds_min":     round(times[0], 4),
		"snorkel_fit_seconds": snorkelSeconds,
		"speedup_vs_snorkel":  round(snorkelSeconds/med, 1),
		"max_accuracy_error":  round(maxErr, 4),
		"class_balance":       mc.ClassBalance(),
		"majority_vote_acc":   round(label.Accuracy(label.Predict(pmv, tb), gold), 4),
		"label_model_acc":     round(label.Accuracy(label.Predict(plm, tb), gold), 4),
		"gomaxprocs":          runtime.GOMAXPROCS(0),
	}
	fmt.Printf("median fit %.3fs (Snorkel 0.10: %.1fs, %.1f× faster); max |accuracy error| %.4f; accuracy: majority vote %.4f, label model %.4f\n",
		med, snorkelSeconds, snorkelSeconds/med, maxErr, out["majority_vote_acc"], out["label_model_acc"])
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}
