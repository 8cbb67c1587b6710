package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/nn"
	pb "github.com/kiln-ml/kiln/serve/inferencepb"
)

// conformanceRepo holds model "mnist" with versions 1 and 2 (different
// weights).
func conformanceRepo(t *testing.T) string {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{32}, 1, nil)
	saveMLP(t, repo, "mnist", "2", []int{32}, 2, nil)
	return repo
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func closeTo(t *testing.T, what string, got []float64, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-float64(want[i])) > 1e-6 {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func argmax(p []float32, rows, classes int) []float64 {
	out := make([]float64, rows)
	for r := range rows {
		best := 0
		for c := range classes {
			if p[r*classes+c] > p[r*classes+best] {
				best = c
			}
		}
		out[r] = float64(best)
	}
	return out
}

// The specification's health, metadata and inference examples over REST
// ("HTTP/REST" section of the Open Inference Protocol), every field of
// each response checked.
func TestConformanceREST(t *testing.T) {
	repo := conformanceRepo(t)
	ts := startServer(t, Config{Repository: repo})
	for _, p := range []string{"/v2/health/live", "/v2/health/ready", "/v2/models/mnist/ready", "/v2/models/mnist/versions/1/ready"} {
		code, body, _ := ts.do(t, "GET", p, nil)
		if code != 200 || len(body) != 0 {
			t.Errorf("GET %s: %d %q, want 200 with an empty body", p, code, body)
		}
	}
	if code, body, _ := ts.do(t, "GET", "/v2/models/mnist/versions/9/ready", nil); code != 404 {
		t.Errorf("ready of a missing version: %d %s, want 404", code, body)
	}

	// Server metadata: $metadata_server_response = {name, version, extensions}.
	code, body, hdr := ts.do(t, "GET", "/v2", nil)
	var sm map[string]any
	if err := json.Unmarshal(body, &sm); err != nil || code != 200 {
		t.Fatalf("GET /v2: %d %s %v", code, body, err)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if !reflect.DeepEqual(sm, map[string]any{"name": "kiln", "version": ServerVersion, "extensions": []any{"binary_tensor_data"}}) {
		t.Errorf("server metadata %v", sm)
	}

	// Model metadata: {name, versions, platform, inputs, outputs}, each
	// tensor {name, datatype, shape}.
	wantMeta := map[string]any{
		"name": "mnist", "versions": []any{"1", "2"}, "platform": "kiln",
		"inputs": []any{map[string]any{"name": "input", "datatype": "FP32", "shape": []any{-1.0, 784.0}}},
		"outputs": []any{
			map[string]any{"name": "probabilities", "datatype": "FP32", "shape": []any{-1.0, 10.0}},
			map[string]any{"name": "class", "datatype": "INT64", "shape": []any{-1.0}},
		},
	}
	code, body, _ = ts.do(t, "GET", "/v2/models/mnist", nil)
	var mm map[string]any
	if err := json.Unmarshal(body, &mm); err != nil || code != 200 {
		t.Fatalf("model metadata: %d %s", code, body)
	}
	if !reflect.DeepEqual(mm, wantMeta) {
		t.Errorf("model metadata\n got %v\nwant %v", mm, wantMeta)
	}
	code, body, _ = ts.do(t, "GET", "/v2/models/mnist/versions/1", nil)
	json.Unmarshal(body, &mm)
	wantMeta["versions"] = []any{"1"}
	if code != 200 || !reflect.DeepEqual(mm, wantMeta) {
		t.Errorf("version metadata %d %v", code, mm)
	}

	// Inference, the specification's example shape: an id, one input with
	// nested row-major data, one requested output.
	x := images(2, 3)
	nested := [][]float32{x[:784], x[784:]}
	reqBody, _ := json.Marshal(map[string]any{
		"id":         "42",
		"parameters": map[string]any{"content_type": "np"},
		"inputs":     []any{map[string]any{"name": "input", "shape": []int{2, 784}, "datatype": "FP32", "data": nested}},
		"outputs":    []any{map[string]any{"name": "probabilities"}},
	})
	for _, tc := range []struct{ path, version string }{{"/v2/models/mnist/versions/1/infer", "1"}, {"/v2/models/mnist/infer", "2"}} {
		code, body, _ = ts.do(t, "POST", tc.path, reqBody)
		if code != 200 {
			t.Fatalf("POST %s: %d %s", tc.path, code, body)
		}
		var resp map[string]any
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
		if got := keys(resp); !reflect.DeepEqual(got, []string{"id", "model_name", "model_version", "outputs"}) {
			t.Fatalf("response fields %v", got)
		}
		if resp["model_name"] != "mnist" || resp["model_version"] != tc.version || resp["id"] != "42" {
			t.Errorf("%s: model %v version %v id %v", tc.path, resp["model_name"], resp["model_version"], resp["id"])
		}
		outs := resp["outputs"].([]any)
		if len(outs) != 1 {
			t.Fatalf("%d outputs, want the 1 requested", len(outs))
		}
		o := outs[0].(map[string]any)
		if got := keys(o); !reflect.DeepEqual(got, []string{"data", "datatype", "name", "shape"}) {
			t.Fatalf("output fields %v", got)
		}
		if o["name"] != "probabilities" || o["datatype"] != "FP32" || !reflect.DeepEqual(o["shape"], []any{2.0, 10.0}) {
			t.Errorf("output %v %v %v", o["name"], o["datatype"], o["shape"])
		}
		var data []float64
		for _, v := range o["data"].([]any) {
			data = append(data, v.(float64))
		}
		closeTo(t, tc.path+" probabilities", data, reference(t, repo, "mnist", tc.version, x, 2))
	}

	// The specification's example request verbatim (two inputs "input0",
	// UINT32 [2, 2], and "input1", BOOL [3]) decodes, but a Kiln model
	// takes one FP32 input: the answer is the protocol's error object
	// naming the field.
	spec := []byte(`{
	  "id" : "42",
	  "inputs" : [
	    { "name" : "input0", "shape" : [ 2, 2 ], "datatype" : "UINT32", "data" : [ 1, 2, 3, 4 ] },
	    { "name" : "input1", "shape" : [ 3 ], "datatype" : "BOOL", "data" : [ true ] }
	  ],
	  "outputs" : [ { "name" : "output0" } ]
	}`)
	if _, err := DecodeRESTRequest(spec, -1, "mnist", ""); err != nil {
		t.Errorf("the specification's example does not decode: %v", err)
	}
	code, body, _ = ts.do(t, "POST", "/v2/models/mnist/infer", spec)
	var e map[string]any
	json.Unmarshal(body, &e)
	if code != 400 || len(e) != 1 || !strings.HasPrefix(fmt.Sprint(e["error"]), "inputs: model mnist takes 1 input tensor") {
		t.Errorf("the specification's example: %d %s", code, body)
	}

	// No outputs requested: all of them, in metadata order; no id: none back.
	code, body, _ = ts.do(t, "POST", "/v2/models/mnist/versions/2/infer", inferBody(t, "", x[:784], 1))
	var resp struct {
		ModelName    string `json:"model_name"`
		ModelVersion string `json:"model_version"`
		ID           *string
		Outputs      []struct {
			Name, Datatype string
			Shape          []int64
			Data           []float64
		}
	}
	if err := json.Unmarshal(body, &resp); err != nil || code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if resp.ID != nil || len(resp.Outputs) != 2 || resp.Outputs[0].Name != "probabilities" || resp.Outputs[1].Name != "class" {
		t.Fatalf("response %s", body)
	}
	ref := reference(t, repo, "mnist", "2", x[:784], 1)
	if o := resp.Outputs[1]; o.Datatype != "INT64" || !reflect.DeepEqual(o.Shape, []int64{1}) || !reflect.DeepEqual(o.Data, argmax(ref, 1, 10)) {
		t.Errorf("class output %+v, want argmax %v", o, argmax(ref, 1, 10))
	}
}

// The same examples over gRPC (inference.GRPCInferenceService), with
// typed contents and with raw_input_contents.
func TestConformanceGRPC(t *testing.T) {
	repo := conformanceRepo(t)
	ts := startServer(t, Config{Repository: repo})
	ctx := context.Background()
	if r, err := ts.grpc.ServerLive(ctx, &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("ServerLive %v %v", r, err)
	}
	if r, err := ts.grpc.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Errorf("ServerReady %v %v", r, err)
	}
	if r, err := ts.grpc.ModelReady(ctx, &pb.ModelReadyRequest{Name: "mnist", Version: "2"}); err != nil || !r.Ready {
		t.Errorf("ModelReady %v %v", r, err)
	}
	sm, err := ts.grpc.ServerMetadata(ctx, &pb.ServerMetadataRequest{})
	if err != nil || sm.Name != "kiln" || sm.Version != ServerVersion || !reflect.DeepEqual(sm.Extensions, []string{"binary_tensor_data"}) {
		t.Errorf("ServerMetadata %v %v", sm, err)
	}
	mm, err := ts.grpc.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "mnist"})
	if err != nil {
		t.Fatal(err)
	}
	if mm.Name != "mnist" || !reflect.DeepEqual(mm.Versions, []string{"1", "2"}) || mm.Platform != "kiln" ||
		len(mm.Inputs) != 1 || mm.Inputs[0].Name != "input" || mm.Inputs[0].Datatype != "FP32" || !reflect.DeepEqual(mm.Inputs[0].Shape, []int64{-1, 784}) ||
		len(mm.Outputs) != 2 || mm.Outputs[0].Name != "probabilities" || mm.Outputs[0].Datatype != "FP32" || !reflect.DeepEqual(mm.Outputs[0].Shape, []int64{-1, 10}) ||
		mm.Outputs[1].Name != "class" || mm.Outputs[1].Datatype != "INT64" || !reflect.DeepEqual(mm.Outputs[1].Shape, []int64{-1}) {
		t.Errorf("ModelMetadata %v", mm)
	}

	x := images(3, 4)
	ref := reference(t, repo, "mnist", "1", x, 3)
	req := &pb.ModelInferRequest{ModelName: "mnist", ModelVersion: "1", Id: "42",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{3, 1, 28, 28},
			Contents: &pb.InferTensorContents{Fp32Contents: x}}}}
	r, err := ts.grpc.ModelInfer(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r.ModelName != "mnist" || r.ModelVersion != "1" || r.Id != "42" || len(r.Parameters) != 0 || len(r.RawOutputContents) != 0 || len(r.Outputs) != 2 {
		t.Fatalf("ModelInfer response %v", r)
	}
	p, c := r.Outputs[0], r.Outputs[1]
	if p.Name != "probabilities" || p.Datatype != "FP32" || !reflect.DeepEqual(p.Shape, []int64{3, 10}) || len(p.Parameters) != 0 {
		t.Errorf("probabilities output %v", p)
	}
	got := make([]float64, len(p.Contents.Fp32Contents))
	for i, v := range p.Contents.Fp32Contents {
		got[i] = float64(v)
	}
	closeTo(t, "grpc probabilities", got, ref)
	wantCls := argmax(ref, 3, 10)
	if c.Name != "class" || c.Datatype != "INT64" || !reflect.DeepEqual(c.Shape, []int64{3}) || len(c.Contents.Int64Contents) != 3 {
		t.Fatalf("class output %v", c)
	}
	for i, v := range c.Contents.Int64Contents {
		if float64(v) != wantCls[i] {
			t.Errorf("class[%d] = %d, want %v", i, v, wantCls[i])
		}
	}

	// Raw contents in, raw contents out (little-endian), one output asked for.
	raw := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	req = &pb.ModelInferRequest{ModelName: "mnist", ModelVersion: "1",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{3, 784}}},
		Outputs:          []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "class"}},
		RawInputContents: [][]byte{raw}}
	r, err = ts.grpc.ModelInfer(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Outputs) != 1 || r.Outputs[0].Name != "class" || r.Outputs[0].Contents != nil || len(r.RawOutputContents) != 1 || len(r.RawOutputContents[0]) != 24 {
		t.Fatalf("raw response %v", r)
	}
	for i := range 3 {
		if v := int64(binary.LittleEndian.Uint64(r.RawOutputContents[0][8*i:])); float64(v) != wantCls[i] {
			t.Errorf("raw class[%d] = %d, want %v", i, v, wantCls[i])
		}
	}
}

// LeNet-5 takes [N, 1, 28, 28] (and flat rows), and answers as the network
// does outside the server.
func TestLeNetServed(t *testing.T) {
	repo := t.TempDir()
	cfg := nn.ModelConfig{Name: "lenet5", Input: []int{1, 28, 28}, Classes: 10}
	m, err := nn.Build(cfg, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveModel(filepath.Join(repo, "lenet", "1"), nn.SavedModel{Config: cfg, Mean: 0.1307, Std: 0.3081}, m); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Repository: repo})
	x := images(2, 8)
	ref := reference(t, repo, "lenet", "1", x, 2)
	for _, shape := range [][]int64{{2, 1, 28, 28}, {2, 784}} {
		r, err := ts.grpc.ModelInfer(context.Background(), &pb.ModelInferRequest{ModelName: "lenet",
			Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: shape, Contents: &pb.InferTensorContents{Fp32Contents: x}}}})
		if err != nil {
			t.Fatalf("shape %v: %v", shape, err)
		}
		got := make([]float64, 20)
		for i, v := range r.Outputs[0].Contents.Fp32Contents {
			got[i] = float64(v)
		}
		closeTo(t, fmt.Sprint("lenet ", shape), got, ref)
	}
	mm, err := ts.grpc.ModelMetadata(context.Background(), &pb.ModelMetadataRequest{Name: "lenet"})
	if err != nil || !reflect.DeepEqual(mm.Inputs[0].Shape, []int64{-1, 1, 28, 28}) {
		t.Errorf("lenet metadata %v %v", mm, err)
	}
}

// The binary tensor data extension over REST: the JSON header's length in
// Inference-Header-Content-Length, an FP32 input as raw little-endian
// bytes after it, and the probabilities asked back in binary while the
// class stays in JSON.
func TestConformanceRESTBinary(t *testing.T) {
	repo := conformanceRepo(t)
	ts := startServer(t, Config{Repository: repo})
	x := images(2, 6)
	raw := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	hdr, _ := json.Marshal(map[string]any{"id": "b",
		"inputs":  []any{map[string]any{"name": "input", "shape": []int{2, 784}, "datatype": "FP32", "parameters": map[string]any{"binary_data_size": len(raw)}}},
		"outputs": []any{map[string]any{"name": "probabilities", "parameters": map[string]any{"binary_data": true}}, map[string]any{"name": "class"}}})
	req, _ := http.NewRequest("POST", ts.url+"/v2/models/mnist/versions/1/infer", bytes.NewReader(append(hdr, raw...)))
	req.Header.Set("Inference-Header-Content-Length", fmt.Sprint(len(hdr)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	n, err := strconv.Atoi(resp.Header.Get("Inference-Header-Content-Length"))
	if err != nil || n > len(body) || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("response headers %v", resp.Header)
	}
	var r struct {
		ModelName    string `json:"model_name"`
		ModelVersion string `json:"model_version"`
		ID           string
		Outputs      []struct {
			Name, Datatype string
			Shape          []int64
			Parameters     map[string]float64
			Data           []float64
		}
	}
	if err := json.Unmarshal(body[:n], &r); err != nil {
		t.Fatal(err)
	}
	ref := reference(t, repo, "mnist", "1", x, 2)
	if r.ModelName != "mnist" || r.ModelVersion != "1" || r.ID != "b" || len(r.Outputs) != 2 {
		t.Fatalf("response %s", body[:n])
	}
	p, c := r.Outputs[0], r.Outputs[1]
	if p.Name != "probabilities" || p.Datatype != "FP32" || !reflect.DeepEqual(p.Shape, []int64{2, 10}) || p.Data != nil || p.Parameters["binary_data_size"] != 80 || len(body)-n != 80 {
		t.Fatalf("binary output %+v with %d bytes after the header", p, len(body)-n)
	}
	got := make([]float64, 20)
	for i := range got {
		got[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(body[n+4*i:])))
	}
	closeTo(t, "binary probabilities", got, ref)
	if c.Name != "class" || c.Parameters != nil || !reflect.DeepEqual(c.Data, argmax(ref, 2, 10)) {
		t.Errorf("JSON class output %+v", c)
	}

	// Sizes that do not add up are refused, naming the field.
	for _, tc := range []struct {
		hdrLen string
		body   []byte
		want   string
	}{
		{fmt.Sprint(len(hdr) + len(raw) + 10), append(hdr, raw...), "Inference-Header-Content-Length"},
		{fmt.Sprint(len(hdr)), append(hdr, raw[:100]...), "inputs[0].parameters.binary_data_size"},
		{fmt.Sprint(len(hdr)), append(append(hdr, raw...), 1, 2, 3), "body: 3 bytes of binary data"},
		{"x", append(hdr, raw...), "Inference-Header-Content-Length"},
	} {
		req, _ := http.NewRequest("POST", ts.url+"/v2/models/mnist/infer", bytes.NewReader(tc.body))
		req.Header.Set("Inference-Header-Content-Length", tc.hdrLen)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), tc.want) {
			t.Errorf("header %s: %d %s, want 400 naming %s", tc.hdrLen, resp.StatusCode, b, tc.want)
		}
	}
}

// binary_data_output asks every output in binary unless the output's own
// binary_data parameter says otherwise (as Triton reads them).
func TestRESTBinaryDataOverride(t *testing.T) {
	repo := conformanceRepo(t)
	ts := startServer(t, Config{Repository: repo})
	x := images(1, 7)
	body, _ := json.Marshal(map[string]any{
		"inputs":     []any{map[string]any{"name": "input", "shape": []int{1, 784}, "datatype": "FP32", "data": x}},
		"outputs":    []any{map[string]any{"name": "probabilities"}, map[string]any{"name": "class", "parameters": map[string]any{"binary_data": false}}},
		"parameters": map[string]any{"binary_data_output": true}})
	resp, err := http.Post(ts.url+"/v2/models/mnist/infer", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n, err := strconv.Atoi(resp.Header.Get("Inference-Header-Content-Length"))
	if resp.StatusCode != 200 || err != nil || n > len(b) {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, b)
	}
	var r struct {
		Outputs []struct {
			Name       string
			Parameters map[string]float64
			Data       []float64
		}
	}
	if err := json.Unmarshal(b[:n], &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Outputs) != 2 || r.Outputs[0].Parameters["binary_data_size"] != 40 || r.Outputs[0].Data != nil {
		t.Fatalf("probabilities not in binary: %s", b[:n])
	}
	if r.Outputs[1].Name != "class" || r.Outputs[1].Parameters != nil || len(r.Outputs[1].Data) != 1 || len(b)-n != 40 {
		t.Fatalf("class with binary_data false not in JSON: %s (%d bytes after the header)", b[:n], len(b)-n)
	}
}
