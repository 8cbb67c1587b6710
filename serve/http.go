package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// binaryHeader carries the length of the JSON part of a body that uses
// the binary tensor data extension.
const binaryHeader = "Inference-Header-Content-Length"

// ServerName and ServerVersion are what server metadata reports.
const (
	ServerName    = "kiln"
	ServerVersion = "0.1.0"
)

// Handler returns the REST front end of the Open Inference Protocol:
//
//	GET  /v2/health/live, /v2/health/ready          200 or 400, empty body
//	GET  /v2                                         server metadata
//	GET  /v2/models/{name}[/versions/{v}]           model metadata
//	GET  /v2/models/{name}[/versions/{v}]/ready     200, or 404 for an unknown model or version
//	POST /v2/models/{name}[/versions/{v}]/infer     inference
//	POST /v2/models/{name}/feedback                 reward for an earlier answer
//	GET  /metrics                                    Prometheus metrics
//
// Errors are a JSON object {"error": "..."} naming the field at fault.
// An inference body may use the binary tensor data extension: the JSON's
// length in the Inference-Header-Content-Length header, raw tensor bytes
// after it (see DecodeRESTRequest).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) { healthStatus(w, s.Live()) })
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) { healthStatus(w, s.Ready()) })
	mux.HandleFunc("GET /v2", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"name": ServerName, "version": ServerVersion, "extensions": []string{"binary_tensor_data"}})
	})
	mux.HandleFunc("GET /v2/models/{name}", s.handleMetadata)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", s.handleMetadata)
	mux.HandleFunc("GET /v2/models/{name}/ready", s.handleReady)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", s.handleReady)
	mux.HandleFunc("POST /v2/models/{name}/infer", s.handleInfer)
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", s.handleInfer)
	mux.HandleFunc("POST /v2/models/{name}/feedback", s.handleFeedback)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{}))
	return mux
}

// healthStatus answers a health request: the protocol's "200 indicates
// true and a 4xx status code indicates false" (400, as Triton answers).
func healthStatus(w http.ResponseWriter, ok bool) {
	if ok {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusBadRequest)
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	md, err := s.Metadata(r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		s.writeError(w, r.PathValue("name"), "rest", err)
		return
	}
	tm := func(ts []TensorMetadata) []map[string]any {
		out := make([]map[string]any, len(ts))
		for i, t := range ts {
			out[i] = map[string]any{"name": t.Name, "datatype": t.Datatype, "shape": t.Shape}
		}
		return out
	}
	writeJSON(w, 200, map[string]any{"name": md.Name, "versions": md.Versions, "platform": md.Platform,
		"inputs": tm(md.Inputs), "outputs": tm(md.Outputs)})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.lookup(r.PathValue("name"), r.PathValue("version")); err != nil {
		s.writeError(w, r.PathValue("name"), "rest", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleInfer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("name")
	if err := s.enter(); err != nil {
		s.writeError(w, name, "rest", err)
		return
	}
	defer s.leave()
	headerLen := -1
	if h := r.Header.Get(binaryHeader); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 {
			s.writeError(w, name, "rest", badRequest(binaryHeader, "%q is not a byte count", h))
			return
		}
		headerLen = n
	}
	body, pooled, err := s.readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = badRequest("body", "larger than the server's limit of %d bytes", mbe.Limit)
		} else {
			err = badRequest("body", "read: %v", err)
		}
		s.writeError(w, name, "rest", err)
		return
	}
	req, err := decodeREST(body, headerLen, name, r.PathValue("version"), &s.headers, &s.words)
	if pooled != nil {
		s.bodies.Put(pooled) // the request holds copies of everything it needs
	}
	if err != nil {
		s.writeError(w, name, "rest", err)
		return
	}
	res, err := s.infer(r.Context(), req)
	// Nothing reads the inputs once infer has returned (see wordPool).
	s.words.putAll(req.pooled)
	req.pooled = nil
	if err != nil {
		s.writeError(w, name, "rest", err)
		return
	}
	resp := restResponse{ModelName: res.Model, ModelVersion: res.Version, ID: res.ID}
	if res.EnsembleSize > 0 {
		resp.Parameters = map[string]any{"ensemble_members": res.Members, "ensemble_size": res.EnsembleSize}
	}
	resp.Outputs = make([]restOutput, 0, len(res.Outputs))
	var bin []byte
	for _, o := range res.Outputs {
		out := restOutput{Name: o}
		binOut, said := req.BinaryOutputs[o]
		if !said {
			binOut = req.BinaryAll
		}
		off := len(bin)
		switch o {
		case ProbabilitiesName:
			out.Shape, out.Datatype = []int64{int64(res.Rows), int64(res.Classes)}, "FP32"
			if binOut {
				bin = appendFP32s(bin, res.Probs)
			} else {
				out.Data = jsonFloats(res.Probs)
			}
		case ClassName:
			cls := res.ClassOf()
			out.Shape, out.Datatype = []int64{int64(res.Rows)}, "INT64"
			if binOut {
				bin = appendINT64s(bin, cls)
			} else {
				out.Data = cls
			}
		}
		if binOut {
			out.Parameters = &restOutputParams{BinaryDataSize: len(bin) - off}
		}
		resp.Outputs = append(resp.Outputs, out)
	}
	if bin == nil {
		writeJSON(w, 200, resp)
	} else {
		js, err := json.Marshal(resp)
		if err != nil {
			s.writeError(w, name, "rest", err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set(binaryHeader, strconv.Itoa(len(js)))
		w.WriteHeader(200)
		// Two writes to the response's buffer: appending bin to js would
		// copy the tensor data once more for nothing.
		w.Write(js)
		w.Write(bin)
	}
	s.met.requests.WithLabelValues(name, "rest", "200").Inc()
	s.met.latency.WithLabelValues(name, "rest").Observe(time.Since(start).Seconds())
}

// pooledBody is the largest body read into a pooled buffer; a larger one
// (or one of unknown length) is read as it comes, so that a Content-Length
// header alone cannot make the server allocate.
const pooledBody = 1 << 20

// readBody reads a request body of at most MaxBody bytes. A small body of
// known length is read into a buffer from the server's pool, returned as
// pooled for the caller to put back once nothing refers to the body any
// more (pooled is nil otherwise, and on an error).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (body []byte, pooled *[]byte, err error) {
	mbr := http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	n := r.ContentLength
	if n < 0 || n > pooledBody || n > s.cfg.MaxBody {
		b, err := io.ReadAll(mbr)
		return b, nil, err
	}
	bp := s.bodies.Get().(*[]byte)
	if int64(cap(*bp)) < n {
		*bp = make([]byte, n)
	}
	buf := (*bp)[:n]
	if _, err := io.ReadFull(mbr, buf); err != nil {
		s.bodies.Put(bp)
		return nil, nil, err
	}
	return buf, bp, nil
}

func (s *Server) handleFeedback(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		s.writeError(w, name, "rest", badRequest("body", "%v", err))
		return
	}
	var fb Feedback
	if err := json.Unmarshal(body, &fb); err != nil {
		s.writeError(w, name, "rest", jsonError(err))
		return
	}
	res, err := s.Feedback(name, fb)
	if err != nil {
		s.writeError(w, name, "rest", err)
		return
	}
	writeJSON(w, 200, res)
}

// jsonFloats makes float32 values JSON-safe (NaN and infinities have no
// JSON form; a softmax never yields them, but a broken model could).
func jsonFloats(v []float32) []float32 {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			out := make([]float32, len(v))
			for i, y := range v {
				if !math.IsNaN(float64(y)) && !math.IsInf(float64(y), 0) {
					out[i] = y
				}
			}
			return out
		}
	}
	return v
}

// statusClientClosed is the status recorded for a request whose client
// went away before the answer.
const statusClientClosed = 499

// statusOf maps an error of Infer to an HTTP status, a reason for the
// rejection metric, and a Retry-After in whole seconds (0: none).
func statusOf(err error) (code int, reason string, retry int) {
	var re *RequestError
	var oe *OverloadError
	switch {
	case errors.As(err, &re):
		if re.Status == 404 {
			return 404, "not_found", 0
		}
		return re.Status, "bad_request", 0
	case errors.As(err, &oe):
		return http.StatusTooManyRequests, oe.Reason, max(1, int(math.Ceil(oe.RetryAfter.Seconds())))
	case errors.Is(err, ErrDeadline), errors.Is(err, context.DeadlineExceeded):
		// The context's deadline is the request's (gRPC's, or an
		// ensemble's members'): the same expiry as ErrDeadline.
		return http.StatusGatewayTimeout, "expired", 0
	case errors.Is(err, context.Canceled):
		// The client left; nobody reads the status, and it is no failure
		// of the server (499 is nginx's "client closed request").
		return statusClientClosed, "canceled", 0
	case errors.Is(err, ErrStopped):
		return http.StatusServiceUnavailable, "unloaded", 1
	}
	return http.StatusInternalServerError, "error", 0
}

func (s *Server) writeError(w http.ResponseWriter, model, protocol string, err error) {
	code, reason, retry := statusOf(err)
	model = s.metricName(model)
	if retry > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(retry))
	}
	if code >= 500 && code != http.StatusGatewayTimeout && code != http.StatusServiceUnavailable {
		s.log.Error("inference failed", "model", model, "err", err)
	}
	s.met.rejections.WithLabelValues(model, reason).Inc()
	s.met.requests.WithLabelValues(model, protocol, fmt.Sprint(code)).Inc()
	writeJSON(w, code, map[string]string{"error": strings.TrimSpace(err.Error())})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = 500, []byte(`{"error":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// metricName returns model, or "(unknown)" for names the server does not
// serve, so that requests for made-up names cannot grow the metrics.
func (s *Server) metricName(model string) string {
	if _, _, err := s.lookup(model, ""); err != nil {
		return "(unknown)"
	}
	return model
}
