package serve

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
)

// InferRequest is an inference request as either protocol carries it,
// decoded but not yet checked against a model.
type InferRequest struct {
	// Model and Version name the model; an empty Version lets the model's
	// selection policy choose.
	Model, Version string
	// ID is echoed in the response.
	ID string
	// Inputs are the request's tensors.
	Inputs []InputTensor
	// Outputs names the outputs wanted; empty means all.
	Outputs []string
	// Timeout, when positive, shortens the request's deadline below the
	// server's objective (Triton's "timeout" parameter, in microseconds).
	Timeout time.Duration
	// BinaryOutputs holds the outputs whose binary_data parameter was
	// given, and whether to return each as binary data (the REST binary
	// tensor data extension); BinaryAll (binary_data_output) asks it for
	// every output that does not say otherwise.
	BinaryOutputs map[string]bool
	BinaryAll     bool

	// pooled are the buffers from the server's wordPool that Inputs'
	// data live in, given back when the request is answered.
	pooled []*[]uint64
}

// withOwnInputs returns req with its inputs in memory of their own, for
// work that may outlive the request (an ensemble's stragglers); req
// itself when none is pooled.
func (req *InferRequest) withOwnInputs() *InferRequest {
	if len(req.pooled) == 0 {
		return req
	}
	c := *req
	c.pooled = nil
	c.Inputs = slices.Clone(req.Inputs)
	for i := range c.Inputs {
		c.Inputs[i].Data = slices.Clone(c.Inputs[i].Data)
	}
	return &c
}

// InputTensor is one decoded input tensor.
type InputTensor struct {
	// Name, Datatype and Shape are as sent.
	Name, Datatype string
	Shape          []int64
	// Data holds the elements of a numeric tensor as float32, row-major.
	Data []float32
}

// RequestError is a request the server cannot serve as sent: it names the
// field at fault and carries the HTTP status to answer with (400 for a bad
// request, 404 for an unknown model or version).
type RequestError struct {
	// Status is the HTTP status code.
	Status int
	// Field is the JSON path of the field at fault, e.g. "inputs[0].shape".
	Field string
	// Msg says what is wrong.
	Msg string
}

func (e *RequestError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func badRequest(field, format string, args ...any) *RequestError {
	return &RequestError{Status: 400, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func notFound(field, format string, args ...any) *RequestError {
	return &RequestError{Status: 404, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Datatypes of the protocol whose elements are numbers.
var numericTypes = map[string]bool{
	"UINT8": true, "UINT16": true, "UINT32": true, "UINT64": true,
	"INT8": true, "INT16": true, "INT32": true, "INT64": true,
	"FP16": true, "FP32": true, "FP64": true,
}

// knownType reports whether dt is one of the protocol's datatypes.
func knownType(dt string) bool { return dt == "BOOL" || dt == "BYTES" || numericTypes[dt] }

// elements returns the product of a shape, or an error naming field when a
// dimension is negative or the product overflows limit.
func elements(field string, shape []int64, limit int64) (int64, error) {
	n := int64(1)
	for i, d := range shape {
		if d < 0 {
			return 0, badRequest(fmt.Sprintf("%s[%d]", field, i), "dimension %d is negative", d)
		}
		if d != 0 && n > limit/d {
			return 0, badRequest(field, "shape %v holds more than %d elements", shape, limit)
		}
		n *= d
	}
	return n, nil
}

// rowsFor checks that the request fits model m (one FP32 input named
// "input" of shape [N, sample...] or [N, features]) and returns N and the
// flat rows.
func rowsFor(req *InferRequest, m *Model, maxRows int) (int, []float32, error) {
	if len(req.Inputs) != 1 {
		return 0, nil, badRequest("inputs", "model %s takes 1 input tensor %q, got %d", m.Name, InputName, len(req.Inputs))
	}
	in := req.Inputs[0]
	if in.Name != InputName {
		return 0, nil, badRequest("inputs[0].name", "model %s has no input %q (its input is %q)", m.Name, in.Name, InputName)
	}
	if in.Datatype != "FP32" {
		return 0, nil, badRequest("inputs[0].datatype", "model %s takes FP32, got %q", m.Name, in.Datatype)
	}
	if len(in.Shape) < 2 {
		return 0, nil, badRequest("inputs[0].shape", "shape %v: want [N, %s] (N rows first)", in.Shape, shapeString(m.Sample))
	}
	per := int64(1)
	for _, d := range in.Shape[1:] {
		if d < 1 || per > int64(m.Features) {
			per = -1
			break
		}
		per *= d
	}
	// Any trailing shape that holds one row's features is taken: [N, 784]
	// and [N, 1, 28, 28] both reach an MLP or LeNet-5 (rows are flat).
	if per != int64(m.Features) {
		return 0, nil, badRequest("inputs[0].shape", "shape %v does not match model %s's input [N, %s]", in.Shape, m.Name, shapeString(m.Sample))
	}
	n := in.Shape[0]
	if n < 1 {
		return 0, nil, badRequest("inputs[0].shape[0]", "%d rows, want at least 1", n)
	}
	if n > int64(maxRows) {
		return 0, nil, badRequest("inputs[0].shape[0]", "%d rows, the server takes at most %d per request", n, maxRows)
	}
	if int64(len(in.Data)) != n*int64(m.Features) {
		return 0, nil, badRequest("inputs[0].data", "%d values for shape %v (%d elements)", len(in.Data), in.Shape, n*int64(m.Features))
	}
	for _, o := range req.Outputs {
		if o != ProbabilitiesName && o != ClassName {
			return 0, nil, badRequest("outputs", "model %s has no output %q (outputs: %q, %q)", m.Name, o, ProbabilitiesName, ClassName)
		}
	}
	return int(n), in.Data, nil
}

func shapeString(s []int) string {
	out := ""
	for i, d := range s {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprint(d)
	}
	return out
}

// appendFP32s appends v to b as little-endian FP32, the protocols' raw
// tensor encoding.
func appendFP32s(b []byte, v []float32) []byte {
	b = slices.Grow(b, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// appendINT64s appends v to b as little-endian INT64.
func appendINT64s(b []byte, v []int64) []byte {
	b = slices.Grow(b, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}
