// Command serve_load is the bench-serve_load harness: an open-loop load
// generator that drives kiln serve on loopback with MNIST test images at
// rising offered rates (REST with the binary tensor data extension over
// keep-alive connections, or gRPC with raw_input_contents), once with
// adaptive batching and once with batches of one row, and measures beside
// it the model's batched throughput in process (the ceiling) and the CPU
// each request cost the server and the generator. It prints a table per
// model and ends with one JSON line.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/serve"
	pb "github.com/kiln-ml/kiln/serve/inferencepb"
	"github.com/kiln-ml/kiln/tensor"
)

func main() {
	kiln := flag.String("kiln", "bin/kiln", "kiln binary")
	repo := flag.String("repo", "", "model repository holding mlp/1 and lenet5/1")
	images := flag.String("images", "", "MNIST t10k-images-idx3-ubyte.gz")
	slo := flag.Duration("slo", 20*time.Millisecond, "latency objective")
	step := flag.Duration("step", 2*time.Second, "duration of each offered-load step")
	rowsList := flag.String("rows", "1,16,64", "rows (images) per request, one run of each; the first gives the headline figures")
	proto := flag.String("proto", "rest", "protocol: rest (HTTP/1.1 keep-alive, binary tensor data extension) or grpc (raw_input_contents)")
	conns := flag.Int("conns", 0, "connections (default: rest 128, grpc 4)")
	profile := flag.String("cpuprofile", "", "pass --cpuprofile PREFIX-MODEL-ROWS-SERVER.prof to each kiln serve")
	maxDelay := flag.String("max-delay", "", "kiln serve --max-delay of the adaptive server (empty: its default)")
	threads := flag.Int("threads", 1, "kiln serve --threads, and the ceiling's BLAS threads")
	models := flag.String("models", "mlp,lenet5", "models to measure")
	only := flag.String("only", "", "run only this server (adaptive or batch-1)")
	flag.Parse()
	if *repo == "" || *images == "" {
		fmt.Fprintln(os.Stderr, "serve_load: -repo and -images are required")
		os.Exit(2)
	}
	loadStart := loadAvg()
	x, err := readImages(*images)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve_load:", err)
		os.Exit(1)
	}
	if *proto != "rest" && *proto != "grpc" {
		fmt.Fprintf(os.Stderr, "serve_load: -proto %q: want rest or grpc\n", *proto)
		os.Exit(2)
	}
	if *conns <= 0 {
		*conns = 128
		if *proto == "grpc" {
			*conns = 4
		}
	}
	tensor.SetThreads(*threads)
	var rowsSizes []int
	for _, r := range splitComma(*rowsList) {
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "serve_load: -rows %q: want positive integers\n", *rowsList)
			os.Exit(2)
		}
		rowsSizes = append(rowsSizes, n)
	}
	out := map[string]any{"bench": "serve_load", "slo_ms": slo.Seconds() * 1000, "rows_per_request": rowsSizes[0],
		"numcpu": runtime.NumCPU(), "protocol": *proto, "threads": *threads}
	for _, name := range splitComma(*models) {
		ceil, best := ceiling(filepath.Join(*repo, name, "1"), name, x, *slo)
		fmt.Printf("\n== %s: in-process ceiling %.0f rows/s (batch %d, %d thread(s))\n", name, ceil, best, *threads)
		p := name
		if name == "lenet5" {
			p = "lenet"
		}
		out[p+"_ceiling_rows_per_s"] = math.Round(ceil)
		out[p+"_ceiling_batch"] = best
		for ri, rowsPer := range rowsSizes {
			var served [2]float64
			var bestSteps [2]stepResult
			for i, maxBatch := range []int{256, 1} {
				label := "adaptive"
				if maxBatch == 1 {
					label = "batch-1"
				}
				if *only != "" && *only != label {
					continue
				}
				prof := ""
				if *profile != "" {
					prof = fmt.Sprintf("%s-%s-r%d-%s.prof", *profile, name, rowsPer, label)
				}
				srv, err := startServer(*kiln, *repo, maxBatch, *slo, *threads, *proto, *conns, *maxDelay, prof)
				if err != nil {
					fmt.Fprintln(os.Stderr, "serve_load:", err)
					os.Exit(1)
				}
				var run func(rate float64) stepResult
				if *proto == "rest" {
					reqs := restRequests(name, x, rowsPer)
					run = func(rate float64) stepResult { return offerREST(srv.restConns, reqs, rowsPer, rate, *step) }
				} else {
					reqs := requests(name, x, rowsPer)
					run = func(rate float64) stepResult { return offer(srv.grpc, reqs, rowsPer, rate, *step) }
				}
				fmt.Printf("%s %s (%s, %d connections): offered rows/s  served rows/s  p50 ms  p99 ms (served)  refused  CPU µs/request: server generator; * counts (p99 ≤ objective, ≤ 1%% refused)\n", name, label, *proto, *conns)
				bestSteps[i] = ladder(measureCPU(run, srv.cmd.Process.Pid, rowsPer), *slo)
				served[i] = bestSteps[i].served
				fmt.Printf("  server: %s\n", srv.batchSummary(name))
				srv.stop()
			}
			frac := served[0] / ceil
			speed := served[0] / math.Max(served[1], 1)
			if *only != "" {
				// One server was run: there is nothing to compare.
				fmt.Printf("%s, %d rows per request: served at p99 ≤ %v: %s %.0f rows/s (%.2f of the ceiling %.0f)\n",
					name, rowsPer, *slo, *only, served[0]+served[1], (served[0]+served[1])/ceil, ceil)
				continue
			}
			fmt.Printf("%s, %d rows per request: served at p99 ≤ %v: adaptive %.0f rows/s (%.2f of the ceiling %.0f), batch-1 %.0f rows/s; speedup %.2f×\n",
				name, rowsPer, *slo, served[0], frac, ceil, served[1], speed)
			q := fmt.Sprintf("%s_r%d_", p, rowsPer)
			out[q+"served_rows_per_s"] = math.Round(served[0])
			out[q+"batch1_rows_per_s"] = math.Round(served[1])
			out[q+"served_p50_ms"] = round3(ms(bestSteps[0].p50))
			out[q+"served_p99_ms"] = round3(ms(bestSteps[0].p99))
			out[q+"batch1_p99_ms"] = round3(ms(bestSteps[1].p99))
			out[q+"served_server_cpu_us_per_request"] = math.Round(bestSteps[0].srvCPU*10) / 10
			out[q+"served_generator_cpu_us_per_request"] = math.Round(bestSteps[0].genCPU*10) / 10
			out[q+"least_server_cpu_us_per_request"] = math.Round(bestSteps[0].minSrvCPU*10) / 10
			out[q+"least_generator_cpu_us_per_request"] = math.Round(bestSteps[0].minGenCPU*10) / 10
			out[q+"batch1_least_server_cpu_us_per_request"] = math.Round(bestSteps[1].minSrvCPU*10) / 10
			out[q+"fraction_of_ceiling"] = round3(frac)
			out[q+"speedup_vs_batch1"] = round3(speed)
			if ri == 0 {
				out[p+"_fraction_of_ceiling"] = round3(frac)
				out[p+"_speedup_vs_batch1"] = round3(speed)
				if name == "mlp" {
					out["fraction_of_ceiling"] = round3(frac)
					out["speedup_vs_batch1"] = round3(speed)
				}
			}
		}
	}
	out["loadavg_start"], out["loadavg_end"] = loadStart, loadAvg()
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// loadAvg returns the one-minute load average (-1 when unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// splitComma returns the non-empty items of a comma-separated list.
func splitComma(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' })
}

// readImages returns the MNIST test images as rows of 784 pixels in [0, 1].
func readImages(path string) ([]float32, error) {
	idx, err := data.ReadIDX(path)
	if err != nil {
		return nil, err
	}
	v, err := idx.Float32s()
	if err != nil {
		return nil, err
	}
	for i := range v {
		v[i] /= 255
	}
	return v, nil
}

// ceiling measures the model's throughput in process, one thread, at batch
// sizes 1 to 256, and returns the best whose batch time is within the
// objective (a larger batch could not be served within it).
func ceiling(dir, name string, x []float32, slo time.Duration) (float64, int) {
	m, err := serve.LoadModel(name, "1", dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve_load:", err)
		os.Exit(1)
	}
	n := len(x) / 784
	best, bestB := 0.0, 0
	fmt.Printf("\n%s in process: batch  rows/s  ms/batch\n", name)
	for b := 1; b <= 256; b *= 2 {
		m.Predict(x[:b*784], b) // warm up
		start := time.Now()
		rows, off := 0, 0
		for time.Since(start) < 300*time.Millisecond {
			if off+b > n {
				off = 0
			}
			m.Predict(x[off*784:(off+b)*784], b)
			off += b
			rows += b
		}
		el := time.Since(start)
		rps := float64(rows) / el.Seconds()
		per := el / time.Duration(rows/b)
		fmt.Printf("  %4d  %8.0f  %6.3f\n", b, rps, per.Seconds()*1000)
		if per <= slo && rps > best {
			best, bestB = rps, b
		}
	}
	return best, bestB
}

type server struct {
	rest      string
	cmd       *exec.Cmd
	grpc      []pb.GRPCInferenceServiceClient
	cc        []*grpc.ClientConn
	restConns []*restConn
}

// startServer starts kiln serve with the given batch bound and opens conns
// connections of the protocol to it.
func startServer(kiln, repo string, maxBatch int, slo time.Duration, threads int, proto string, conns int, maxDelay, profile string) (*server, error) {
	args := []string{"serve", "--repo", repo, "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--json",
		"--max-batch", fmt.Sprint(maxBatch), "--slo", slo.String(), "--cache-rows", "0", "--threads", fmt.Sprint(threads),
		"--queue-rows", "4096"}
	if profile != "" {
		args = append(args, "--cpuprofile", profile)
	}
	if maxDelay != "" && maxBatch > 1 {
		args = append(args, "--max-delay", maxDelay)
	}
	cmd := exec.Command(kiln, args...)
	cmd.Stderr = nil
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var addrs struct{ GRPC, REST string }
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&addrs); err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("kiln serve: %w", err)
	}
	s := &server{cmd: cmd, rest: addrs.REST}
	for range conns {
		if proto == "rest" {
			rc, err := dialREST(addrs.REST)
			if err != nil {
				s.stop()
				return nil, err
			}
			s.restConns = append(s.restConns, rc)
			continue
		}
		cc, err := grpc.NewClient(addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			s.stop()
			return nil, err
		}
		s.cc = append(s.cc, cc)
		s.grpc = append(s.grpc, pb.NewGRPCInferenceServiceClient(cc))
	}
	return s, nil
}

func (s *server) stop() {
	for _, c := range s.cc {
		c.Close()
	}
	for _, c := range s.restConns {
		c.c.Close()
	}
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
}

// measureCPU wraps a step with the CPU time (user and system) that the
// server process (pid) and this generator spent on it, per request
// answered: on a machine shared with other work, CPU per request is the
// figure that does not depend on how much of the machine the run got.
func measureCPU(run func(rate float64) stepResult, pid, rows int) func(rate float64) stepResult {
	return func(rate float64) stepResult {
		s0, g0 := procCPU(pid), selfCPU()
		r := run(rate)
		s1, g1 := procCPU(pid), selfCPU()
		if n := float64(r.ok) + float64(r.refused); n > 0 {
			r.srvCPU = (s1 - s0).Seconds() * 1e6 / n
			r.genCPU = (g1 - g0).Seconds() * 1e6 / n
		}
		return r
	}
}

// procCPU returns the user and system time of process pid from
// /proc/PID/stat (0 when it cannot be read).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at ")".
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// selfCPU returns this process's user and system time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type stepResult struct {
	srvCPU, genCPU float64       // CPU µs per request sent, server and generator
	p99All         time.Duration // p99 over all requests sent, refused ones as late
	// The least CPU per request of any step of the ladder (set on the
	// ladder's result): near saturation the fixed costs of a step are
	// spread thinnest, so this is closest to the marginal cost.
	minSrvCPU, minGenCPU float64
	offered, served      float64 // rows/s
	p50, p99             time.Duration
	ok, refused          int64
}

// ladder offers rising load (run(rate) runs one step at rate rows/s)
// until the server saturates and returns the best served throughput among
// steps whose p99 met the objective, counting refused requests as late
// (so at most 1% may be refused).
func ladder(run func(rate float64) stepResult, slo time.Duration) stepResult {
	var best stepResult
	minSrv, minGen := math.Inf(1), math.Inf(1)
	rate := 1000.0 // rows/s
	// Rise until two steps in a row serve less than 90% of what was
	// offered (saturation); a single step with a bad p99 (another process
	// took the CPU) does not end the ladder.
	step := func(rate float64, note string) stepResult {
		r := run(rate)
		if r.ok > 0 && r.srvCPU > 0 {
			minSrv, minGen = min(minSrv, r.srvCPU), min(minGen, r.genCPU)
		}
		mark := ""
		if r.p99All <= slo && r.served > best.served {
			best = r
			mark = " *"
		}
		fmt.Printf("  %10.0f  %10.0f  %6.2f  %6.2f  %7d  %6.1f %6.1f%s%s\n", r.offered, r.served, ms(r.p50), ms(r.p99), r.refused, r.srvCPU, r.genCPU, mark, note)
		return r
	}
	saturated := 0
	for i := 0; i < 20 && saturated < 2; i++ {
		r := step(rate, "")
		if r.served < 0.9*r.offered {
			saturated++
		} else {
			saturated = 0
		}
		rate *= 1.4
	}
	// The ×1.4 steps quantise the answer; three bisecting steps (in the
	// logarithm of the rate) between the best one and the next refine it
	// to 1.4^(1/8), about 4%.
	if best.offered > 0 {
		lo, hi := best.offered, best.offered*1.4
		for range 3 {
			mid := math.Sqrt(lo * hi)
			if r := step(mid, " (refining)"); r.p99All <= slo {
				lo = mid
			} else {
				hi = mid
			}
		}
	}
	if !math.IsInf(minSrv, 1) {
		best.minSrvCPU, best.minGenCPU = minSrv, minGen
	}
	return best
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

// requests builds one request per group of rows images, raw FP32 inputs.
func requests(model string, x []float32, rows int) []*pb.ModelInferRequest {
	n := len(x) / 784 / rows
	out := make([]*pb.ModelInferRequest, n)
	for i := range out {
		raw := make([]byte, 4*784*rows)
		for j, v := range x[i*784*rows : (i+1)*784*rows] {
			binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(v))
		}
		out[i] = &pb.ModelInferRequest{ModelName: model,
			Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{int64(rows), 784}}},
			Outputs:          []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "class"}},
			RawInputContents: [][]byte{raw}}
	}
	return out
}

// offer sends requests open loop at rate rows/s for dur (arrivals spaced
// evenly, sent from a pool of goroutines so that a slow answer does not
// delay the next arrival) and returns what was served; a latency counts
// from when its request was due.
func offer(clients []pb.GRPCInferenceServiceClient, reqs []*pb.ModelInferRequest, rows int, rate float64, dur time.Duration) stepResult {
	perSec := rate / float64(rows)
	total := int(perSec * dur.Seconds())
	lats := make([]time.Duration, total)
	var wg sync.WaitGroup
	ctx := context.Background()
	start := time.Now()
	// At most this many requests in flight; beyond it an arrival counts
	// as refused by the client (the server is far past saturation).
	sem := make(chan struct{}, 8192)
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(float64(i) / perSec * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case sem <- struct{}{}:
		default:
			lats[i] = -1
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := clients[i%len(clients)].ModelInfer(ctx, reqs[i%len(reqs)])
			if err != nil {
				lats[i] = -1
				return
			}
			// From when it was due, as offerREST counts: a generator
			// running late is charged to the request, not left out.
			lats[i] = time.Since(due)
		}(i)
	}
	wg.Wait()
	return summarise(lats, rows, total, dur, time.Since(start))
}

// batchSummary reads the server's metrics: batches run, mean rows per
// batch and mean time per batch.
func (s *server) batchSummary(model string) string {
	resp, err := http.Get("http://" + s.rest + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	vals := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []string{"kiln_serve_batch_size_sum", "kiln_serve_batch_size_count", "kiln_serve_batch_duration_seconds_sum"} {
			if strings.HasPrefix(line, k+"{model=\""+model+"\"") {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				vals[k] = v
			}
		}
	}
	n := vals["kiln_serve_batch_size_count"]
	if n == 0 {
		return "no batches"
	}
	return fmt.Sprintf("%.0f batches, mean %.1f rows, mean %.3f ms per batch, %.1f s in the model",
		n, vals["kiln_serve_batch_size_sum"]/n, vals["kiln_serve_batch_duration_seconds_sum"]/n*1000, vals["kiln_serve_batch_duration_seconds_sum"])
}
