package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/kiln-ml/kiln/serve/inferencepb"
)

// Bad requests get 400 (or 404 for an unknown model or version) with an
// error naming the field, and the server keeps serving.
func TestBadInputREST(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{16}, 1, nil)
	ts := startServer(t, Config{Repository: repo, MaxBody: 64 << 10, MaxRows: 8})
	row := strings.TrimSuffix(strings.Repeat("0.5,", 784), ",")
	good := `{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[` + row + `]}]}`
	cases := []struct {
		name, path, body string
		code             int
		want             string // in the error message
	}{
		{"malformed JSON", "/v2/models/mnist/infer", `{"inputs":[{"name":"input",`, 400, "body: malformed JSON"},
		{"not an object", "/v2/models/mnist/infer", `[1,2]`, 400, "want serve.restRequest"},
		{"no inputs", "/v2/models/mnist/infer", `{"id":"1"}`, 400, "inputs: missing"},
		{"shape of strings", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":["a"],"datatype":"FP32","data":[1]}]}`, 400, "inputs.shape"},
		{"wrong shape", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}`, 400, "inputs[0].shape: shape [1 3] does not match"},
		{"1-D shape", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":[784],"datatype":"FP32","data":[` + row + `]}]}`, 400, "inputs[0].shape"},
		{"negative dimension", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":[-1,784],"datatype":"FP32","data":[1]}]}`, 400, "inputs[0].shape[0]: dimension -1 is negative"},
		{"data count off", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":[2,784],"datatype":"FP32","data":[` + row + `]}]}`, 400, "inputs[0].data: 784 values for a shape of 1568 elements"},
		{"wrong datatype", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":[1,784],"datatype":"INT32","data":[` + strings.ReplaceAll(row, "0.5", "1") + `]}]}`, 400, `inputs[0].datatype: model mnist takes FP32, got "INT32"`},
		{"unknown datatype", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":[1],"datatype":"FP99","data":[1]}]}`, 400, `inputs[0].datatype: unknown datatype "FP99"`},
		{"string in data", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[1,"x"]}]}`, 400, `inputs[0].data[1]: want a number`},
		{"number too big for FP32", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[1e300]}]}`, 400, `inputs[0].data[0]: "1e300" is not an FP32 number`},
		{"wrong input name", "/v2/models/mnist/infer", strings.Replace(good, `"input"`, `"x"`, 1), 400, `inputs[0].name: model mnist has no input "x"`},
		{"two inputs", "/v2/models/mnist/infer", `{"inputs":[` + good[11:len(good)-2] + `,` + good[11:len(good)-2] + `]}`, 400, "inputs: model mnist takes 1 input tensor"},
		{"unknown output", "/v2/models/mnist/infer", good[:len(good)-1] + `,"outputs":[{"name":"logits"}]}`, 400, `outputs: model mnist has no output "logits"`},
		{"too many rows", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":[9,784],"datatype":"FP32","data":[` + strings.Repeat(row+",", 8) + row + `]}]}`, 400, "inputs[0].shape[0]: 9 rows, the server takes at most 8"},
		{"bad timeout", "/v2/models/mnist/infer", good[:len(good)-1] + `,"parameters":{"timeout":"soon"}}`, 400, "parameters.timeout"},
		{"oversized body", "/v2/models/mnist/infer", `{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[` + strings.Repeat("0.123456789,", 8000) + `0]}]}`, 400, "body: larger than the server's limit of 65536 bytes"},
		{"unknown model", "/v2/models/nope/infer", good, 404, `model_name: unknown model "nope"`},
		{"unknown version", "/v2/models/mnist/versions/7/infer", good, 404, `model_version: model "mnist" has no version "7"`},
		{"metadata of unknown model", "/v2/models/nope", "", 404, `unknown model "nope"`},
		{"feedback without id", "/v2/models/mnist/feedback", `{"reward":1}`, 400, "id: missing"},
		{"feedback for an unknown id", "/v2/models/mnist/feedback", `{"id":"zz","reward":1}`, 404, `id: no answered request "zz"`},
	}
	for _, c := range cases {
		method := "POST"
		if c.body == "" {
			method = "GET"
		}
		code, body, _ := ts.do(t, method, c.path, []byte(c.body))
		var e struct{ Error string }
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("%s: body %q is not an error object", c.name, body)
			continue
		}
		if code != c.code || !strings.Contains(e.Error, c.want) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, code, e.Error, c.code, c.want)
		}
		// The server keeps serving after each.
		if code, body, _ := ts.do(t, "POST", "/v2/models/mnist/infer", []byte(good)); code != 200 {
			t.Fatalf("after %s: good request got %d %s", c.name, code, body)
		}
	}
}

func TestBadInputGRPC(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{16}, 1, nil)
	ts := startServer(t, Config{Repository: repo})
	in := func(shape []int64, dt string, data []float32) []*pb.ModelInferRequest_InferInputTensor {
		return []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: dt, Shape: shape, Contents: &pb.InferTensorContents{Fp32Contents: data}}}
	}
	cases := []struct {
		name string
		req  *pb.ModelInferRequest
		code codes.Code
		want string
	}{
		{"no inputs", &pb.ModelInferRequest{ModelName: "mnist"}, codes.InvalidArgument, "inputs: missing"},
		{"wrong shape", &pb.ModelInferRequest{ModelName: "mnist", Inputs: in([]int64{1, 10}, "FP32", make([]float32, 10))}, codes.InvalidArgument, "inputs[0].shape"},
		{"count off", &pb.ModelInferRequest{ModelName: "mnist", Inputs: in([]int64{1, 784}, "FP32", make([]float32, 10))}, codes.InvalidArgument, "inputs[0].contents.fp32_contents: 10 values"},
		{"wrong datatype", &pb.ModelInferRequest{ModelName: "mnist", Inputs: in([]int64{1, 784}, "FP64", nil)}, codes.InvalidArgument, "inputs[0].datatype"},
		{"raw size off", &pb.ModelInferRequest{ModelName: "mnist", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 784}}}, RawInputContents: [][]byte{make([]byte, 10)}}, codes.InvalidArgument, "raw_input_contents[0]: 10 bytes"},
		{"raw NaN", &pb.ModelInferRequest{ModelName: "mnist", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 784}}}, RawInputContents: [][]byte{rawWith(784, 5, float32(math.NaN()))}}, codes.InvalidArgument, "raw_input_contents[0][5]: NaN is not a finite FP32 number"},
		{"contents infinity", &pb.ModelInferRequest{ModelName: "mnist", Inputs: in([]int64{1, 784}, "FP32", withValue(784, 7, float32(math.Inf(-1))))}, codes.InvalidArgument, "inputs[0].contents.fp32_contents[7]: -Inf is not a finite FP32 number"},
		{"unknown model", &pb.ModelInferRequest{ModelName: "nope", Inputs: in([]int64{1, 784}, "FP32", make([]float32, 784))}, codes.NotFound, "unknown model"},
		{"unknown version", &pb.ModelInferRequest{ModelName: "mnist", ModelVersion: "3", Inputs: in([]int64{1, 784}, "FP32", make([]float32, 784))}, codes.NotFound, "model_version"},
	}
	ctx := context.Background()
	for _, c := range cases {
		_, err := ts.grpc.ModelInfer(ctx, c.req)
		st, _ := status.FromError(err)
		if st.Code() != c.code || !strings.Contains(st.Message(), c.want) {
			t.Errorf("%s: %v %q, want %v with %q", c.name, st.Code(), st.Message(), c.code, c.want)
		}
	}
	if _, err := ts.grpc.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "mnist", Inputs: in([]int64{1, 784}, "FP32", make([]float32, 784))}); err != nil {
		t.Fatalf("server stopped serving: %v", err)
	}
	if _, err := ts.grpc.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("metadata of unknown model: %v", err)
	}
}

// FuzzDecodeRESTRequest: any body gives a request or a *RequestError,
// never a panic, and a decoded tensor's data matches its shape.
func FuzzDecodeRESTRequest(f *testing.F) {
	f.Add([]byte(`{"id":"42","inputs":[{"name":"input","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}],"outputs":[{"name":"class"}]}`))
	f.Add([]byte(`{"inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,4]},{"name":"input1","shape":[3],"datatype":"BOOL","data":[true]}],"outputs":[{"name":"output0"}]}`))
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1e-7]}],"parameters":{"timeout":1000}}`))
	f.Add([]byte(`{"inputs":[]}`))
	// JSON has no NaN or infinity, but a number too large for FP32 is one.
	f.Add([]byte(`{"inputs":[{"name":"input","shape":[2],"datatype":"FP32","data":[1,1e39]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRESTRequest(body, -1, "m", "")
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || re.Status != 400 || re.Error() == "" {
				t.Fatalf("error %v (%T) is not a 400 RequestError", err, err)
			}
			return
		}
		if req == nil {
			t.Fatal("nil request without error")
		}
		checkDecodedData(t, req, func(dt string) bool { return numericTypes[dt] })
	})
}

// FuzzDecodeGRPCRequest: any bytes that parse as a ModelInferRequest give
// a request or a 400 *RequestError, never a panic, and a decoded FP32
// tensor's data matches its shape.
func FuzzDecodeGRPCRequest(f *testing.F) {
	for _, r := range []*pb.ModelInferRequest{
		{ModelName: "m", Id: "42", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 2}, Contents: &pb.InferTensorContents{Fp32Contents: []float32{1, 2}}}}},
		{ModelName: "m", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 1}}}, RawInputContents: [][]byte{{0, 0, 128, 63}}},
		{ModelName: "m", Parameters: map[string]*pb.InferParameter{"timeout": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 100}}}},
		// Non-finite values, which the decoder must refuse.
		{ModelName: "m", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 3}}}, RawInputContents: [][]byte{rawWith(3, 2, float32(math.NaN()))}},
		{ModelName: "m", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 2}, Contents: &pb.InferTensorContents{Fp32Contents: []float32{1, float32(math.Inf(1))}}}}},
	} {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r pb.ModelInferRequest
		if proto.Unmarshal(b, &r) != nil {
			return
		}
		req, _, err := DecodeGRPCRequest(&r)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || re.Status != 400 {
				t.Fatalf("error %v (%T) is not a 400 RequestError", err, err)
			}
			return
		}
		checkDecodedData(t, req, func(dt string) bool { return dt == "FP32" })
	})
}

// FuzzDecodeRESTBinary: a body of the binary tensor data extension with
// any header length gives a request or a 400 *RequestError, never a
// panic, and decoded numeric data matches its shape.
func FuzzDecodeRESTBinary(f *testing.F) {
	hdr := `{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}],"outputs":[{"name":"class","parameters":{"binary_data":true}}]}`
	f.Add([]byte(hdr+"\x00\x00\x80\x3f\x00\x00\x00\x40"), len(hdr))
	f.Add([]byte(hdr+"\x00\x00\x80"), len(hdr))
	u8 := `{"inputs":[{"name":"x","shape":[3],"datatype":"UINT8","parameters":{"binary_data_size":3}}],"parameters":{"binary_data_output":true}}`
	f.Add([]byte(u8+"\x01\x02\x03"), len(u8))
	f.Add([]byte(u8+"\x01\x02\x03"), -1)
	// Non-finite FP32 (a NaN, then an infinity) and FP64 beyond FP32.
	f.Add([]byte(hdr+"\x00\x00\xc0\x7f\x00\x00\x80\x3f"), len(hdr))
	f.Add([]byte(hdr+"\x00\x00\x80\x3f\x00\x00\x80\xff"), len(hdr))
	f64 := `{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","parameters":{"binary_data_size":8}}]}`
	f.Add([]byte(f64+"\x00\x00\x00\x00\x00\x00\xf0\x7f"), len(f64))
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		req, err := DecodeRESTRequest(body, headerLen, "m", "")
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || re.Status != 400 || re.Error() == "" {
				t.Fatalf("error %v (%T) is not a 400 RequestError", err, err)
			}
			return
		}
		checkDecodedData(t, req, func(dt string) bool { return numericTypes[dt] })
	})
}

// checkDecodedData fails t when a decoded input whose datatype decoded
// reports true holds a different number of values than its shape.
func checkDecodedData(t *testing.T, req *InferRequest, decoded func(datatype string) bool) {
	t.Helper()
	for i, in := range req.Inputs {
		n := int64(1)
		for _, d := range in.Shape {
			n *= d
		}
		if decoded(in.Datatype) && int64(len(in.Data)) != n {
			t.Fatalf("input %d: %d values for shape %v", i, len(in.Data), in.Shape)
		}
		for j, v := range in.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("input %d: value %d is %v, which the decoders refuse", i, j, v)
			}
		}
	}
}

// withValue is n zeros with v at index i.
func withValue(n, i int, v float32) []float32 {
	d := make([]float32, n)
	d[i] = v
	return d
}

// rawWith is withValue as little-endian FP32 bytes.
func rawWith(n, i int, v float32) []byte {
	return appendFP32s(nil, withValue(n, i, v))
}

// param's shortcut for literals and numbers gives what encoding/json gives
// for every JSON value.
func TestParamMatchesJSON(t *testing.T) {
	for _, raw := range []string{"true", "false", "null", "0", "-0", "12", "1e3", "1.5E-7", "-12.25", "1e999", `"12"`, `"true"`, "[1]", `{"a":1}`, "123456789012345678901234567890"} {
		got, ok := param(json.RawMessage(raw))
		var want any
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			want = raw
		}
		if !ok || fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprintf("%T", got) != fmt.Sprintf("%T", want) {
			t.Errorf("param(%s) = %v (%T), json gives %v (%T)", raw, got, got, want, want)
		}
	}
}

// A binary_data_size too large for an int (1e19) is refused with a 400
// naming the field; converting it to int first gave a negative length
// that sliced the body out of range and panicked the handler.
func TestBadInputRESTHugeBinaryDataSize(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{16}, 1, nil)
	ts := startServer(t, Config{Repository: repo})
	hdr := `{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","parameters":{"binary_data_size":1e19}}]}`
	req, err := http.NewRequest("POST", ts.url+"/v2/models/mnist/infer", strings.NewReader(hdr+string(make([]byte, 4*784))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(binaryHeader, strconv.Itoa(len(hdr)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the server dropped the connection: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "inputs[0].parameters.binary_data_size") {
		t.Fatalf("got %d %s, want 400 naming inputs[0].parameters.binary_data_size", resp.StatusCode, body)
	}
}

// Decoding allocates for the values a body holds, not for the ones its
// shape claims: a 79-byte body claiming 2^26 elements made the decoder
// allocate room for 2^20 values (4 MB) before it found the one value
// there, so small requests could make the server allocate 50 000 times
// their size.
func TestDecodeAllocatesForTheBodyNotTheShape(t *testing.T) {
	body := []byte(`{"inputs":[{"name":"input","shape":[1,67108864],"datatype":"FP32","data":[1]}]}`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodeRESTRequest(body, -1, "m", "")
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "inputs[0].data: 1 values for a shape of 67108864 elements") {
		t.Fatalf("error %v, want the count named", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Errorf("decoding a %d-byte body allocated %d bytes", len(body), grew)
	}
}
