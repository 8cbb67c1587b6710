package serve

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// restRequest is the JSON body of POST .../infer (Open Inference Protocol,
// "Inference Request JSON Object").
type restRequest struct {
	ID         string                `json:"id"`
	Parameters restParams            `json:"parameters"`
	Inputs     []restInput           `json:"inputs"`
	Outputs    []restRequestedOutput `json:"outputs"`
}

type restInput struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters restParams      `json:"parameters"`
	Data       json.RawMessage `json:"data"`
}

type restRequestedOutput struct {
	Name       string     `json:"name"`
	Parameters restParams `json:"parameters"`
}

// restParams holds the parameters the server reads, as raw JSON (nil when
// absent); others are ignored, as the protocol allows. A struct rather
// than a map of values keeps decoding a request free of a map and of a
// boxed value per parameter.
type restParams struct {
	Timeout          json.RawMessage `json:"timeout"`
	BinaryDataOutput json.RawMessage `json:"binary_data_output"`
	BinaryDataSize   json.RawMessage `json:"binary_data_size"`
	BinaryData       json.RawMessage `json:"binary_data"`
}

// param returns a parameter's value decoded as JSON (float64, bool, ...),
// and whether it was given.
func param(raw json.RawMessage) (any, bool) {
	if raw == nil {
		return nil, false
	}
	// raw is one valid JSON value (the request decoded), so the literals
	// and a number that strconv reads are what json would make of them;
	// this saves a decoder per parameter per request.
	switch string(raw) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
		return f, true
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw), true
	}
	return v, true
}

// restResponse is the JSON body of a successful inference ("Inference
// Response JSON Object").
type restResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []restOutput   `json:"outputs"`
}

type restOutput struct {
	Name       string            `json:"name"`
	Shape      []int64           `json:"shape"`
	Datatype   string            `json:"datatype"`
	Parameters *restOutputParams `json:"parameters,omitempty"`
	Data       any               `json:"data,omitempty"`
}

// restOutputParams are an output's parameters: the one the server sets is
// the byte count of an output sent as binary data. A struct rather than a
// map spares each binary answer a map and its sorting by encoding/json.
type restOutputParams struct {
	BinaryDataSize int `json:"binary_data_size"`
}

// maxElements bounds the elements of one decoded tensor.
const maxElements = 1 << 26

// DecodeRESTRequest decodes the body of an inference request for model
// and version. Every error is a *RequestError naming the field at fault.
// Numeric data may be flat or nested arrays in row-major order, as the
// protocol allows; its element count must match the shape.
//
// With headerLen ≥ 0 (the Inference-Header-Content-Length header of the
// binary tensor data extension), body[:headerLen] is the JSON and the rest
// holds, in input order, the little-endian data of every input whose
// parameters give "binary_data_size" instead of "data". Outputs whose
// parameters say "binary_data": true, or all of them when the request's
// parameters say "binary_data_output": true, are to be answered the same
// way.
func DecodeRESTRequest(body []byte, headerLen int, model, version string) (*InferRequest, error) {
	return decodeREST(body, headerLen, model, version, nil, nil)
}

// headerCache remembers the decoded JSON headers of requests that use the
// binary tensor data extension: their JSON holds no data, so a client
// sends the same few headers again and again, and decoding one costs more
// than the rest of the request. A cached header is shared and never
// changed; what a request needs of it is copied out. The cache is bounded
// and starts over when full.
type headerCache struct {
	mu sync.Mutex
	m  map[string]*restRequest
}

// Bounds of the header cache: entries, and the longest header cached.
const (
	headerCacheEntries = 64
	headerCacheBytes   = 2048
)

func (c *headerCache) get(js []byte) *restRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[string(js)]
}

func (c *headerCache) put(js []byte, rr *restRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= headerCacheEntries {
		c.m = make(map[string]*restRequest, headerCacheEntries)
	}
	c.m[string(js)] = rr
}

// decodeREST is DecodeRESTRequest with an optional cache of binary
// requests' JSON headers and an optional pool for binary FP32 inputs
// (the request holds what it took in pooled, for its handler to give
// back; on an error they go back at once).
func decodeREST(body []byte, headerLen int, model, version string, cache *headerCache, words *wordPool) (*InferRequest, error) {
	req := new(InferRequest)
	if err := decodeRESTInto(req, body, headerLen, model, version, cache, words); err != nil {
		words.putAll(req.pooled)
		return nil, err
	}
	return req, nil
}

// decodeRESTInto decodes into req, which holds any pooled buffers taken
// even when it fails.
func decodeRESTInto(req *InferRequest, body []byte, headerLen int, model, version string, cache *headerCache, words *wordPool) error {
	var bin []byte
	if headerLen >= 0 {
		if headerLen > len(body) {
			return badRequest("Inference-Header-Content-Length", "%d is more than the body's %d bytes", headerLen, len(body))
		}
		body, bin = body[:headerLen], body[headerLen:]
	}
	cacheable := cache != nil && headerLen >= 0 && len(body) <= headerCacheBytes
	var rr *restRequest
	if cacheable {
		rr = cache.get(body)
	}
	if rr == nil {
		rr = new(restRequest)
		if err := json.Unmarshal(body, rr); err != nil {
			return jsonError(err)
		}
		if cacheable {
			cache.put(body, rr)
		}
	}
	if rr.Inputs == nil {
		return badRequest("inputs", "missing: a request needs at least one input tensor")
	}
	*req = InferRequest{Model: model, Version: version, ID: rr.ID}
	if t, ok := param(rr.Parameters.Timeout); ok {
		us, ok := t.(float64)
		if !ok || us < 0 || us > float64(time.Hour/time.Microsecond) {
			return badRequest("parameters.timeout", "want microseconds as a non-negative number, got %v", t)
		}
		req.Timeout = time.Duration(us) * time.Microsecond
	}
	if b, ok := param(rr.Parameters.BinaryDataOutput); ok {
		v, ok := b.(bool)
		if !ok {
			return badRequest("parameters.binary_data_output", "want true or false, got %v", b)
		}
		req.BinaryAll = v
	}
	for i, in := range rr.Inputs {
		f := fmt.Sprintf("inputs[%d]", i)
		if in.Name == "" {
			return badRequest(f+".name", "missing")
		}
		if in.Datatype == "" {
			return badRequest(f+".datatype", "missing")
		}
		if !knownType(in.Datatype) {
			return badRequest(f+".datatype", "unknown datatype %q", in.Datatype)
		}
		if in.Shape == nil {
			return badRequest(f+".shape", "missing")
		}
		n, err := elements(f+".shape", in.Shape, maxElements)
		if err != nil {
			return err
		}
		t := InputTensor{Name: in.Name, Datatype: in.Datatype, Shape: slices.Clone(in.Shape)}
		if size, ok := param(in.Parameters.BinaryDataSize); ok {
			k, ok := size.(float64)
			if !ok || k < 0 || k != math.Trunc(k) {
				return badRequest(f+".parameters.binary_data_size", "want a byte count, got %v", size)
			}
			if headerLen < 0 {
				return badRequest(f+".parameters.binary_data_size", "binary data without an Inference-Header-Content-Length header")
			}
			if len(in.Data) != 0 {
				return badRequest(f+".data", "given together with binary_data_size")
			}
			// Compared as a float: a count past the int range would
			// convert to a negative int and slice out of range.
			if k > float64(len(bin)) {
				return badRequest(f+".parameters.binary_data_size", "%v bytes, but only %d remain in the body", k, len(bin))
			}
			if in.Datatype == "FP32" && words != nil && int64(k) == 4*n {
				// Sized by the shape only once the bytes are there: a
				// small body must not make the server allocate much.
				w := words.get(int((n + 1) / 2))
				req.pooled = append(req.pooled, w)
				t.Data, err = decodeFP32(*w, bin[:int(k)], n, f)
			} else {
				t.Data, err = binaryNumbers(bin[:int(k)], in.Datatype, n, f)
			}
			if err != nil {
				return err
			}
			bin = bin[int(k):]
			req.Inputs = append(req.Inputs, t)
			continue
		}
		if len(in.Data) == 0 {
			return badRequest(f+".data", "missing")
		}
		if numericTypes[in.Datatype] {
			t.Data, err = parseNumbers(in.Data, int(n), f+".data")
			if err != nil {
				return err
			}
		}
		req.Inputs = append(req.Inputs, t)
	}
	if len(bin) != 0 {
		return badRequest("body", "%d bytes of binary data that no input's binary_data_size accounts for", len(bin))
	}
	for i, o := range rr.Outputs {
		if o.Name == "" {
			return badRequest(fmt.Sprintf("outputs[%d].name", i), "missing")
		}
		req.Outputs = append(req.Outputs, o.Name)
		if b, ok := param(o.Parameters.BinaryData); ok {
			v, ok := b.(bool)
			if !ok {
				return badRequest(fmt.Sprintf("outputs[%d].parameters.binary_data", i), "want true or false, got %v", b)
			}
			if req.BinaryOutputs == nil {
				req.BinaryOutputs = map[string]bool{}
			}
			req.BinaryOutputs[o.Name] = v
		}
	}
	return nil
}

// binaryWidths are the element sizes, in bytes, of the datatypes
// binaryNumbers decodes other than FP32 (which binaryFP32 decodes).
var binaryWidths = map[string]int64{"FP64": 8, "INT8": 1, "INT16": 2, "INT32": 4, "INT64": 8,
	"UINT8": 1, "UINT16": 2, "UINT32": 4, "UINT64": 8}

// binaryNumbers decodes n little-endian elements of a numeric datatype to
// float32 (FP32, FP64, INT8-64 and UINT8-64; FP16 is not supported).
func binaryNumbers(b []byte, dt string, n int64, field string) ([]float32, error) {
	if dt == "FP32" {
		return binaryFP32(b, n, field)
	}
	w, ok := binaryWidths[dt]
	if !ok {
		return nil, badRequest(field+".datatype", "binary data of datatype %s is not supported", dt)
	}
	if int64(len(b)) != w*n {
		return nil, badRequest(field+".parameters.binary_data_size", "%d bytes for %d %s elements (want %d)", len(b), n, dt, w*n)
	}
	out := make([]float32, n)
	for i := range out {
		e := b[int64(i)*w:]
		switch dt {
		case "FP64":
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(e)))
		case "INT8":
			out[i] = float32(int8(e[0]))
		case "INT16":
			out[i] = float32(int16(binary.LittleEndian.Uint16(e)))
		case "INT32":
			out[i] = float32(int32(binary.LittleEndian.Uint32(e)))
		case "INT64":
			out[i] = float32(int64(binary.LittleEndian.Uint64(e)))
		case "UINT8":
			out[i] = float32(e[0])
		case "UINT16":
			out[i] = float32(binary.LittleEndian.Uint16(e))
		case "UINT32":
			out[i] = float32(binary.LittleEndian.Uint32(e))
		case "UINT64":
			out[i] = float32(binary.LittleEndian.Uint64(e))
		}
		if math.IsInf(float64(out[i]), 0) || math.IsNaN(float64(out[i])) {
			return nil, badRequest(fmt.Sprintf("%s[%d]", field, i), "%v is not a finite FP32 number", out[i])
		}
	}
	return out, nil
}

// binaryFP32 is binaryNumbers for FP32, the common case: decodeFP32 into
// new memory.
func binaryFP32(b []byte, n int64, field string) ([]float32, error) {
	if int64(len(b)) != 4*n {
		return nil, badRequest(field+".parameters.binary_data_size", "%d bytes for %d FP32 elements (want %d)", len(b), n, 4*n)
	}
	return decodeFP32(make([]uint64, (n+1)/2), b, n, field)
}

// decodeFP32 decodes the n little-endian FP32 elements of b (its callers
// have checked that it holds 4n bytes) into words (at least (n+1)/2 of
// them, two elements to a word, so that the check reads aligned words) and
// returns them as float32s; on a little-endian machine that is one copy
// and one check of every element's exponent, eight bytes at a time. It
// refuses NaN and infinity.
func decodeFP32(words []uint64, b []byte, n int64, field string) ([]float32, error) {
	if n == 0 {
		return []float32{}, nil
	}
	words = words[:(n+1)/2]
	words[len(words)-1] = 0 // an odd count's pad element: zero, finite
	out := unsafe.Slice((*float32)(unsafe.Pointer(&words[0])), n)
	if nativeLittleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), 4*n), b)
	} else {
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	if i := firstNonFinite(words, out); i >= 0 {
		return nil, badRequest(fmt.Sprintf("%s[%d]", field, i), "%v is not a finite FP32 number", out[i])
	}
	return out, nil
}

// wordPool lends the memory binary FP32 inputs are decoded into, so that
// a request does not allocate (and the collector clear and sweep) its
// tensor: for the MNIST MLP that cost more than decoding it. A request
// gives its buffers back once nothing reads them: the batcher answers
// only when it has done with a request's rows (Batcher.Predict), and an
// ensemble, whose members may still run after it answers, copies them.
type wordPool struct{ p sync.Pool }

// maxPooledWords bounds the buffers kept: 1 MiB, as pooledBody.
const maxPooledWords = 1 << 17

func (wp *wordPool) get(n int) *[]uint64 {
	if n <= maxPooledWords {
		if v, _ := wp.p.Get().(*[]uint64); v != nil && cap(*v) >= n {
			*v = (*v)[:n]
			return v
		}
	}
	w := make([]uint64, n)
	return &w
}

// putAll gives bufs back; a nil pool ignores them.
func (wp *wordPool) putAll(bufs []*[]uint64) {
	if wp == nil {
		return
	}
	for _, b := range bufs {
		if cap(*b) <= maxPooledWords {
			wp.p.Put(b)
		}
	}
}

// nativeLittleEndian tells whether this machine stores numbers as the
// binary tensor data extension sends them.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// firstNonFinite returns the index in out (whose elements words holds,
// two to a word) of the first infinity or NaN, or -1. A float32 is not
// finite when its exponent bits are all ones; in each word the two
// exponents are masked, compared with all ones by XOR, and a lane that
// became zero is found with the borrow of subtracting one from each lane
// (bit 31 of a masked lane is clear, so it is set after the subtraction
// only in a lane that was zero or, by a borrow, the lane above one).
func firstNonFinite(words []uint64, out []float32) int {
	const exp = 0x7f8000007f800000
	const ones = 0x0000000100000001
	const high = 0x8000000080000000
	var acc, acc1, acc2, acc3 uint64
	i := 0
	for ; i+4 <= len(words); i += 4 {
		w := words[i : i+4 : i+4]
		t0, t1, t2, t3 := (w[0]&exp)^exp, (w[1]&exp)^exp, (w[2]&exp)^exp, (w[3]&exp)^exp
		acc |= (t0 - ones) &^ t0
		acc1 |= (t1 - ones) &^ t1
		acc2 |= (t2 - ones) &^ t2
		acc3 |= (t3 - ones) &^ t3
	}
	for ; i < len(words); i++ {
		t := (words[i] & exp) ^ exp
		acc |= (t - ones) &^ t
	}
	acc = (acc | acc1 | acc2 | acc3) & high
	if acc == 0 {
		return -1
	}
	for i, v := range out {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}

// jsonError turns an encoding/json error into a RequestError naming the
// field or the byte offset.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("body", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return badRequest(field, "want %v, got JSON %s", te.Type, te.Value)
	}
	return badRequest("body", "malformed JSON: %v", err)
}

// parseNumbers reads the numbers of a (possibly nested) JSON array in
// order, wanting exactly want of them. It accepts only arrays and numbers;
// anything else is an error naming field and the element's index.
func parseNumbers(raw []byte, want int, field string) ([]float32, error) {
	// Room for what raw can hold (a value and its comma take two bytes at
	// least), not for what the shape claims: a short body with a huge
	// shape must not make the server allocate.
	out := make([]float32, 0, min(want, len(raw)/2+1))
	depth := 0
	i := 0
	skip := func() {
		for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
			i++
		}
	}
	skip()
	if i >= len(raw) || raw[i] != '[' {
		return nil, badRequest(field, "want an array of numbers")
	}
	expectValue := true
	for i < len(raw) {
		skip()
		if i >= len(raw) {
			break
		}
		c := raw[i]
		switch {
		case c == '[':
			if !expectValue {
				return nil, badRequest(field, "malformed array at byte %d", i)
			}
			depth++
			i++
		case c == ']':
			depth--
			i++
			expectValue = false
			if depth < 0 {
				return nil, badRequest(field, "malformed array at byte %d", i)
			}
		case c == ',':
			if expectValue {
				return nil, badRequest(field, "malformed array at byte %d", i)
			}
			expectValue = true
			i++
		case c == '-' || (c >= '0' && c <= '9'):
			if !expectValue {
				return nil, badRequest(field, "malformed array at byte %d", i)
			}
			j := i
			for j < len(raw) && strings.IndexByte("+-.eE0123456789", raw[j]) >= 0 {
				j++
			}
			v, err := strconv.ParseFloat(string(raw[i:j]), 32)
			if err != nil || math.IsInf(v, 0) {
				return nil, badRequest(fmt.Sprintf("%s[%d]", field, len(out)), "%q is not an FP32 number", raw[i:j])
			}
			if len(out) == want {
				return nil, badRequest(field, "more than the %d values the shape holds", want)
			}
			out = append(out, float32(v))
			expectValue = false
			i = j
		default:
			end := min(i+16, len(raw))
			return nil, badRequest(fmt.Sprintf("%s[%d]", field, len(out)), "want a number, got %q", raw[i:end])
		}
		if depth == 0 {
			skip()
			if i != len(raw) {
				return nil, badRequest(field, "unexpected text after the array at byte %d", i)
			}
			break
		}
	}
	if depth != 0 {
		return nil, badRequest(field, "unterminated array")
	}
	if len(out) != want {
		return nil, badRequest(field, "%d values for a shape of %d elements", len(out), want)
	}
	return out, nil
}
