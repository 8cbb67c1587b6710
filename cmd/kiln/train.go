package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/parallel/ddp"
	"github.com/kiln-ml/kiln/store"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/train"
)

type trainFlags struct {
	model, hidden, dataName, dataDir, out, optim, schedule, config string
	epochs, batch, threads, maxSteps, warmup, workers              int
	lr, momentum, wd, target                                       float64
	cpuprofile                                                     string
	seed                                                           uint64
	json                                                           bool
	dist                                                           distFlags
	strategy                                                       string
	ps                                                             psFlags
}

func (f *trainFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "YAML file of settings (keys are flag names); flags override it")
	fs.StringVar(&f.model, "model", "mlp", "model: mlp or lenet5")
	fs.StringVar(&f.hidden, "hidden", "256,128", "hidden layer sizes of the mlp")
	fs.StringVar(&f.dataName, "data", "mnist", "data set: mnist or fashion-mnist")
	fs.StringVar(&f.dataDir, "data-dir", "", "folder holding the IDX files (default KILN_HOME/datasets/NAME)")
	fs.StringVar(&f.out, "out", "", "folder to save the model into (model.json, model.safetensors)")
	fs.StringVar(&f.optim, "optimizer", "sgd", "optimizer: sgd, adam or adamw")
	fs.StringVar(&f.schedule, "schedule", "constant", "learning-rate schedule: constant, step or cosine")
	fs.IntVar(&f.warmup, "warmup", 0, "linear warm-up steps before the schedule")
	fs.IntVar(&f.epochs, "epochs", 1, "passes over the training set")
	fs.IntVar(&f.batch, "batch", 128, "mini-batch size")
	fs.IntVar(&f.threads, "threads", 1, "compute threads (BLAS threads and Go processors)")
	fs.IntVar(&f.maxSteps, "max-steps", 0, "stop after this many steps (0: no limit)")
	fs.IntVar(&f.workers, "workers", -1, "data loader goroutines (-1: none with --threads 1, where the loader would only compete with the step for the core; 1 otherwise)")
	fs.Float64Var(&f.lr, "lr", 0.05, "learning rate")
	fs.Float64Var(&f.momentum, "momentum", 0.9, "SGD momentum")
	fs.Float64Var(&f.wd, "weight-decay", 0, "weight decay")
	fs.Float64Var(&f.target, "target-accuracy", 0, "stop after the first epoch whose test accuracy reaches this fraction")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed for initialisation and shuffling")
	fs.BoolVar(&f.json, "json", false, "print one JSON document on stdout")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a Go CPU profile of the run to this file")
	fs.IntVar(&f.dist.nproc, "nproc", 1, "data-parallel worker processes to start on this host (--batch is split across all ranks)")
	fs.IntVar(&f.dist.nnodes, "nnodes", 1, "hosts taking part in the job")
	fs.IntVar(&f.dist.nodeRank, "node-rank", 0, "this host's index among the --nnodes hosts")
	fs.StringVar(&f.dist.rdzv, "rdzv-endpoint", "127.0.0.1:29500", "rendezvous: host:port of the store served by global rank 0 (tcp), or etcd endpoints, comma-separated (etcd)")
	fs.StringVar(&f.dist.backend, "rdzv-backend", "tcp", "rendezvous backend: tcp or etcd")
	fs.StringVar(&f.dist.transport, "transport", "auto", "how ranks connect: auto (Unix sockets between processes on one machine, TCP otherwise) or tcp")
	fs.StringVar(&f.dist.jobID, "rdzv-id", "default", "job id: namespaces the rendezvous keys")
	fs.StringVar(&f.strategy, "strategy", "ddp", "data-parallel strategy with --nproc > 1: ddp (all-reduce) or ps (parameter server)")
	fs.IntVar(&f.ps.servers, "ps-servers", 1, "parameter-server processes (--strategy ps)")
	fs.StringVar(&f.ps.mode, "ps-mode", "sync", "parameter-server consistency: sync, async or ssp")
	fs.IntVar(&f.ps.staleness, "staleness", 2, "SSP's bound: how many clocks a worker may run ahead of the slowest")
	fs.IntVar(&f.ps.straggler, "straggler", -1, "rank of a worker to slow down (-1: none)")
	fs.Float64Var(&f.ps.stragglerFactor, "straggler-factor", 3, "how many times slower the straggler's steps are")
	fs.Float64Var(&f.dist.bucketMB, "bucket-mb", 25, "gradient bucket size in MiB for data-parallel all-reduce")
	fs.DurationVar(&f.dist.timeout, "timeout", 30*time.Second, "how long a rank waits for its peers before failing")
}

func runTrain(args []string, stdout, stderr io.Writer) int {
	var f trainFlags
	fs := flag.NewFlagSet("kiln train", flag.ContinueOnError)
	f.register(fs)
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, "train: unexpected argument %q", pos[0])
	}
	if f.epochs < 1 || f.batch < 1 || f.threads < 1 || f.lr < 0 {
		return usageErr(stderr, "train: --epochs, --batch and --threads must be at least 1 and --lr not negative")
	}
	if f.dist.nproc < 1 || f.dist.nnodes < 1 || f.dist.nodeRank < 0 || f.dist.nodeRank >= f.dist.nnodes {
		return usageErr(stderr, "train: --nproc and --nnodes must be at least 1 and --node-rank in [0, --nnodes)")
	}
	if f.strategy != "ddp" && f.strategy != "ps" {
		return usageErr(stderr, "train: unknown --strategy %q (ddp, ps)", f.strategy)
	}
	if f.strategy == "ps" && (f.ps.servers < 1 || f.dist.nnodes != 1) {
		return usageErr(stderr, "train: --strategy ps needs --ps-servers ≥ 1 and one node")
	}
	if idx := os.Getenv(envPSServer); idx != "" {
		i, err := strconv.Atoi(idx)
		if err != nil {
			return usageErr(stderr, "train: bad %s=%q", envPSServer, idx)
		}
		return runPSServer(f, i, stderr)
	}
	w, err := workerFromEnv()
	if err != nil {
		return usageErr(stderr, "train: %v", err)
	}
	if w == nil && f.dist.nproc*f.dist.nnodes > 1 {
		if f.batch%(f.dist.nproc*f.dist.nnodes) != 0 {
			return usageErr(stderr, "train: --batch %d does not split evenly across %d ranks", f.batch, f.dist.nproc*f.dist.nnodes)
		}
		if f.strategy == "ps" {
			return launchPS(args, f.dist, f.ps, stdout, stderr)
		}
		return launch(args, f.dist, stdout, stderr)
	}
	if w != nil && f.batch%w.World != 0 {
		return usageErr(stderr, "train: --batch %d does not split evenly across %d ranks", f.batch, w.World)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if f.cpuprofile != "" {
		if r := os.Getenv(train.EnvRank); r != "" {
			f.cpuprofile += ".rank" + r // one profile per worker
		}
		pf, err := os.Create(f.cpuprofile)
		if err != nil {
			return fail(stderr, "cpuprofile: %v", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fail(stderr, "cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	// Rank 0 records the run; the other ranks of a data-parallel job are
	// part of it.
	rec := &recording{rec: store.Discard}
	if w == nil || w.Rank == 0 {
		if rec, err = startRecording(ctx, "train", append([]string{"train"}, args...), flagConfig(fs)); err != nil {
			return fail(stderr, "%v", err)
		}
	}
	sum, err := trainModel(ctx, f, w, rec.rec, stderr)
	err = rec.end(ctx, err, stderr)
	if w != nil && w.Rank != 0 {
		// Only rank 0 reports and saves; the others share its result.
		if err != nil {
			return fail(stderr, "%v", err)
		}
		return exitOK
	}
	if sum != nil && f.json {
		writeJSON(stdout, sum)
	}
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if !f.json {
		fmt.Fprintf(stdout, "test accuracy %.4f after %d steps (%.0f samples/s)", sum.TestAccuracy, sum.Steps, sum.TrainSamplesPerS)
		if sum.ModelDir != "" {
			fmt.Fprintf(stdout, "; model saved in %s", sum.ModelDir)
		}
		fmt.Fprintln(stdout)
	}
	return exitOK
}

// trainSummary is what kiln train prints with --json.
type trainSummary struct {
	Model            string             `json:"model"`
	Data             string             `json:"data"`
	DataDir          string             `json:"data_dir"`
	BLAS             string             `json:"blas"`
	Threads          int                `json:"threads"`
	Ranks            int                `json:"ranks"`
	Batch            int                `json:"batch"`
	Steps            int                `json:"steps"`
	TrainSamplesPerS float64            `json:"train_samples_per_s"`
	TrainSeconds     float64            `json:"train_seconds"`
	WallSeconds      float64            `json:"wall_seconds"`
	FinalLoss        float64            `json:"final_loss"`
	TestAccuracy     float64            `json:"test_accuracy"`
	TestLoss         float64            `json:"test_loss"`
	Epochs           []train.EpochStats `json:"epochs"`
	ModelDir         string             `json:"model_dir,omitempty"`
	Strategy         string             `json:"strategy,omitempty"`
	// TimeToTarget is the time from the start of training (after data
	// loading and rendezvous) to the end of the first epoch whose test
	// accuracy reached --target-accuracy, evaluations included.
	TimeToTarget float64 `json:"time_to_target_s,omitempty"`
	Error        string  `json:"error,omitempty"`
}

// trainModel trains as f says and records into rec: the data folder it
// read, the parameters, every step's metrics and the saved model folder.
func trainModel(ctx context.Context, f trainFlags, w *worker, rec store.Recorder, stderr io.Writer) (*trainSummary, error) {
	wall := time.Now()
	runtime.GOMAXPROCS(f.threads)
	tensor.SetThreads(f.threads)
	ds, err := openDataset(f.dataName, f.dataDir, stderr)
	if err != nil {
		return nil, err
	}
	if _, err := rec.UsePath(ctx, ds.dir, "data"); err != nil {
		return nil, err
	}
	hidden, err := nn.ParseSizes(f.hidden)
	if err != nil {
		return nil, fmt.Errorf("--hidden: %w", err)
	}
	cfg := nn.ModelConfig{Name: f.model, Input: ds.sampleShape, Hidden: hidden, Classes: ds.classes}
	if f.model == "mlp" {
		cfg.Input = []int{ds.features}
	} else {
		cfg.Hidden = nil
	}
	rng := rand.New(rand.NewPCG(f.seed, 0x6b696c6e))
	model, err := nn.Build(cfg, rng)
	if err != nil {
		return nil, err
	}
	rank, world := 0, 1
	var dp *ddp.DDP
	var psHook func(*autograd.Tape, *autograd.Value) error
	if w != nil && f.strategy == "ps" {
		rank, world = w.Rank, w.World
		hook, closeClient, err := psWorker(ctx, f, w, model)
		if err != nil {
			return nil, fmt.Errorf("rank %d: %w", w.Rank, err)
		}
		defer closeClient()
		psHook = hook
	} else if w != nil {
		rank, world = w.Rank, w.World
		g, closeGroup, err := joinGroup(ctx, w, f.dist)
		if err != nil {
			return nil, fmt.Errorf("rank %d: %w", w.Rank, err)
		}
		defer closeGroup()
		if dp, err = ddp.New(model, g, int(f.dist.bucketMB*(1<<20))); err != nil {
			return nil, err
		}
	}
	var opt nn.Optimizer = &serverOptimizer{params: model.Parameters(), lr: f.lr}
	if psHook == nil {
		if opt, err = newOptimizer(f, model.Parameters()); err != nil {
			return nil, err
		}
	}
	workers := f.workers
	if workers < 0 {
		workers = 0
		if f.threads > 1 {
			workers = 1
		}
	}
	batches, err := ds.trainBatches(f.batch/world, f.seed, workers, rank, world)
	if err != nil {
		return nil, err
	}
	tr := &train.Trainer{Model: model, Opt: opt, Cfg: train.Config{
		SampleShape: cfg.Input, Epochs: f.epochs, MaxSteps: f.maxSteps, Schedule: schedule(f, batches.Len()),
		TargetAccuracy: f.target,
	}}
	if dp != nil {
		tr.Backward = dp.Backward
	}
	if psHook != nil {
		tr.Backward = psHook
	}
	tr.Metrics = rec
	if err := rec.SetParams(ctx, map[string]string{"model": f.model, "data": f.dataName, "hidden": f.hidden, "epochs": strconv.Itoa(f.epochs),
		"batch": strconv.Itoa(f.batch), "lr": strconv.FormatFloat(f.lr, 'g', -1, 64), "optimizer": f.optim, "schedule": f.schedule,
		"seed": strconv.FormatUint(f.seed, 10), "ranks": strconv.Itoa(world), "strategy": f.strategy}); err != nil {
		return nil, err
	}
	prog := newProgress(stderr)
	if rank != 0 {
		prog.on = false
	}
	tr.Hooks.Step = prog.step
	var timeToTarget float64
	var trainStart time.Time // set when the loop starts: data loading and rendezvous excluded
	tr.Hooks.Epoch = func(s train.EpochStats) {
		if f.target > 0 && timeToTarget == 0 && s.TestAcc >= f.target {
			timeToTarget = time.Since(trainStart).Seconds()
		}
		prog.done()
		fmt.Fprintf(stderr, "epoch %d: train loss %.4f acc %.4f, test loss %.4f acc %.4f, %.0f samples/s\n",
			s.Epoch, s.TrainLoss, s.TrainAcc, s.TestLoss, s.TestAcc, s.SamplesPerS)
	}
	test := ds.test
	if psHook != nil && rank != 0 {
		test = nil // on a parameter server only worker 0 evaluates
	}
	if psHook != nil {
		tr.Cfg.TargetAccuracy = 0 // every worker runs its epochs; time to target is recorded
	}
	trainStart = time.Now()
	res, runErr := tr.Run(ctx, batches, test)
	prog.done()
	sum := &trainSummary{Model: f.model, Data: f.dataName, DataDir: ds.dir, BLAS: blasName(), Threads: f.threads, Batch: f.batch, Ranks: world}
	if res != nil {
		// Throughput counts the samples of all ranks.
		sum.Steps, sum.TrainSamplesPerS, sum.TrainSeconds = res.Steps, res.TrainSamplesPerS*float64(world), res.TrainSeconds
		sum.FinalLoss, sum.TestAccuracy, sum.TestLoss, sum.Epochs = res.FinalLoss, res.TestAccuracy, res.TestLoss, res.Epochs
	}
	var nf *train.NonFiniteLossError
	if runErr != nil && !errors.As(runErr, &nf) {
		sum.Error = runErr.Error()
		return sum, runErr
	}
	if f.out != "" && rank == 0 {
		// On a non-finite loss the weights are those of the last good step,
		// and are saved so that the run can be inspected or resumed.
		info := nn.SavedModel{Config: cfg, Mean: ds.norm.Mean, Std: ds.norm.Std, Data: f.dataName}
		if err := nn.SaveModel(f.out, info, model); err != nil {
			return sum, err
		}
		sum.ModelDir, _ = filepath.Abs(f.out)
		if _, err := rec.ProducePath(ctx, sum.ModelDir, "model"); err != nil {
			return sum, err
		}
	}
	sum.WallSeconds = time.Since(wall).Seconds()
	sum.TimeToTarget = timeToTarget
	sum.Strategy = f.strategy
	if runErr != nil {
		sum.Error = runErr.Error()
	}
	return sum, runErr
}

func newOptimizer(f trainFlags, ps []*nn.Param) (nn.Optimizer, error) {
	switch f.optim {
	case "sgd":
		return nn.NewSGD(ps, nn.SGDConfig{LR: f.lr, Momentum: f.momentum, WeightDecay: f.wd})
	case "adam":
		return nn.NewAdam(ps, nn.AdamConfig{LR: f.lr, WeightDecay: f.wd})
	case "adamw":
		return nn.NewAdamW(ps, nn.AdamConfig{LR: f.lr, WeightDecay: f.wd})
	}
	return nil, fmt.Errorf("--optimizer: unknown optimizer %q (sgd, adam, adamw)", f.optim)
}

func schedule(f trainFlags, stepsPerEpoch int) nn.Schedule {
	total := f.epochs * stepsPerEpoch
	if f.maxSteps > 0 && f.maxSteps < total {
		total = f.maxSteps
	}
	var s nn.Schedule
	switch f.schedule {
	case "step":
		s = nn.StepDecay{Base: f.lr, Every: max(1, stepsPerEpoch), Gamma: 0.5}
	case "cosine":
		s = nn.Cosine{Base: f.lr, Total: max(1, total-f.warmup)}
	default:
		if f.warmup == 0 {
			return nil
		}
		s = nn.Constant{Base: f.lr}
	}
	if f.warmup > 0 {
		s = nn.Warmup{Steps: f.warmup, Then: s}
	}
	return s
}
