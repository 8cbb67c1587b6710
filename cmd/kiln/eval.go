package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	_ "image/png" // PNG decoder for kiln predict
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/store"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/train"
)

func runEval(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln eval", flag.ContinueOnError)
	modelDir := fs.String("model", "", "model folder written by kiln train --out")
	dataName := fs.String("data", "", "data set (default: the one the model was trained on)")
	dataDir := fs.String("data-dir", "", "folder holding the IDX files")
	threads := fs.Int("threads", 1, "compute threads")
	asJSON := fs.Bool("json", false, "print one JSON document on stdout")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if *modelDir == "" && len(pos) == 1 {
		*modelDir = pos[0]
	} else if len(pos) > 0 {
		return usageErr(stderr, "eval: unexpected argument %q", pos[0])
	}
	if *modelDir == "" {
		return usageErr(stderr, "eval: --model DIR is required")
	}
	runtime.GOMAXPROCS(*threads)
	tensor.SetThreads(*threads)
	ctx := context.Background()
	rec, err := startRecording(ctx, "eval", append([]string{"eval"}, args...), flagConfig(fs))
	if err != nil {
		return fail(stderr, "%v", err)
	}
	name, n, loss, acc, err := evalModel(ctx, rec.rec, *modelDir, *dataName, *dataDir, stderr)
	if err := rec.end(ctx, err, stderr); err != nil {
		return fail(stderr, "%v", err)
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"model": *modelDir, "data": name, "samples": n, "test_loss": loss, "test_accuracy": acc})
	}
	fmt.Fprintf(stdout, "%s on %s test (%d samples): accuracy %.4f, loss %.4f\n", *modelDir, name, n, acc, loss)
	return exitOK
}

// evalModel evaluates the model in modelDir on a data set's test split
// and records the model and data folders it read and the metrics.
func evalModel(ctx context.Context, rec store.Recorder, modelDir, dataName, dataDir string, stderr io.Writer) (name string, n int, loss, acc float64, err error) {
	info, m, err := nn.LoadModel(modelDir)
	if err != nil {
		return "", 0, 0, 0, err
	}
	name = dataName
	if name == "" {
		name = info.Data
	}
	ds, err := openDataset(name, dataDir, stderr)
	if err != nil {
		return "", 0, 0, 0, err
	}
	if ds.features != tensor.Numel(info.Config.Input) {
		return "", 0, 0, 0, fmt.Errorf("eval: model %s takes inputs of shape %v, data set %s has %v", modelDir, info.Config.Input, name, ds.sampleShape)
	}
	if _, err := rec.UsePath(ctx, modelDir, "model"); err != nil {
		return "", 0, 0, 0, err
	}
	if _, err := rec.UsePath(ctx, ds.dir, "data"); err != nil {
		return "", 0, 0, 0, err
	}
	loss, acc = train.Evaluate(m, ds.test, info.Config.Input, 1000)
	rec.LogMetric("test_loss", 0, loss)
	rec.LogMetric("test_accuracy", 0, acc)
	if err := rec.SetParams(ctx, map[string]string{"data": name, "samples": strconv.Itoa(ds.test.N)}); err != nil {
		return "", 0, 0, 0, err
	}
	return name, ds.test.N, loss, acc, nil
}

func runPredict(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln predict", flag.ContinueOnError)
	modelDir := fs.String("model", "", "model folder written by kiln train --out")
	limit := fs.Int("limit", 10, "classify at most this many images from an IDX file (0: all)")
	asJSON := fs.Bool("json", false, "print one JSON document on stdout")
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if *modelDir == "" || len(files) == 0 {
		return usageErr(stderr, "predict: usage: kiln predict --model DIR IMAGE.png|IMAGES-idx3-ubyte[.gz]...")
	}
	ctx := context.Background()
	rec, err := startRecording(ctx, "predict", append([]string{"predict"}, args...), flagConfig(fs))
	if err != nil {
		return fail(stderr, "%v", err)
	}
	preds, err := predictFiles(ctx, rec.rec, *modelDir, files, *limit)
	if err := rec.end(ctx, err, stderr); err != nil {
		return fail(stderr, "predict: %v", err)
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"model": *modelDir, "predictions": preds})
	}
	for _, p := range preds {
		var b strings.Builder
		for j, v := range p.Probs {
			fmt.Fprintf(&b, " %d:%.3f", j, v)
		}
		fmt.Fprintf(stdout, "%s\tclass %d\t%s\n", p.Input, p.Class, strings.TrimSpace(b.String()))
	}
	return exitOK
}

// prediction is one image's class and class probabilities.
type prediction struct {
	Input string    `json:"input"`
	Class int       `json:"class"`
	Probs []float32 `json:"probabilities"`
}

// predictFiles classifies the images in files (at most limit of an IDX
// file) and records the model and the files it read.
func predictFiles(ctx context.Context, rec store.Recorder, modelDir string, files []string, limit int) ([]prediction, error) {
	info, m, err := nn.LoadModel(modelDir)
	if err != nil {
		return nil, err
	}
	if _, err := rec.UsePath(ctx, modelDir, "model"); err != nil {
		return nil, err
	}
	feat := tensor.Numel(info.Config.Input)
	var preds []prediction
	for _, path := range files {
		xs, names, err := readImages(path, feat, limit)
		if err != nil {
			return nil, err
		}
		if _, err := rec.UsePath(ctx, path, "data"); err != nil {
			return nil, err
		}
		for i := range xs {
			xs[i] = (xs[i] - info.Mean) / info.Std
		}
		n := len(names)
		probs := train.Predict(m, xs, n, info.Config.Input)
		cls := tensor.ArgMaxRows(probs)
		c := probs.Shape[1]
		for i := 0; i < n; i++ {
			preds = append(preds, prediction{Input: names[i], Class: cls[i], Probs: probs.Data[i*c : (i+1)*c]})
		}
	}
	return preds, nil
}

// readImages returns pixel values scaled to [0, 1] (n × feat) and a name
// per image, from a PNG file or an IDX image file.
func readImages(path string, feat, limit int) ([]float32, []string, error) {
	if strings.HasSuffix(strings.ToLower(path), ".png") {
		x, err := readPNG(path, feat)
		return x, []string{path}, err
	}
	idx, err := data.ReadIDX(path)
	if err != nil {
		return nil, nil, err
	}
	if len(idx.Dims) < 2 {
		return nil, nil, fmt.Errorf("%s: IDX dimensions %v are not images", path, idx.Dims)
	}
	per := 1
	for _, d := range idx.Dims[1:] {
		per *= d
	}
	if per != feat {
		return nil, nil, fmt.Errorf("%s: images of %v pixels, the model takes %d", path, idx.Dims[1:], feat)
	}
	n := idx.Dims[0]
	if limit > 0 && limit < n {
		n = limit
	}
	raw, err := idx.Float32s()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	scale := float32(1)
	if idx.Type == data.IDXUint8 {
		scale = 1.0 / 255
	}
	x := make([]float32, n*feat)
	for i := range x {
		x[i] = raw[i] * scale
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s[%d]", path, i)
	}
	return x, names, nil
}

// readPNG decodes a grayscale (or colour, converted) PNG whose pixel count
// matches the model's input, white digits on black as MNIST.
func readPNG(path string, feat int) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	if b.Dx()*b.Dy() != feat {
		return nil, fmt.Errorf("%s: image is %dx%d, the model takes %d pixels", path, b.Dx(), b.Dy(), feat)
	}
	x := make([]float32, 0, feat)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for xx := b.Min.X; xx < b.Max.X; xx++ {
			g := color.GrayModel.Convert(img.At(xx, y)).(color.Gray)
			x = append(x, float32(g.Y)/255)
		}
	}
	return x, nil
}
