package serve

import "github.com/prometheus/client_golang/prometheus"

// metrics are the server's Prometheus series, on a registry of its own.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	batchSize  *prometheus.HistogramVec
	batchLat   *prometheus.HistogramVec
	queueDepth *prometheus.GaugeVec
	batchLimit *prometheus.GaugeVec
	cacheHits  *prometheus.CounterVec
	cacheMiss  *prometheus.CounterVec
	rejections *prometheus.CounterVec
	loaded     *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiln_serve_requests_total",
			Help: "Inference requests by model, protocol and status code."}, []string{"model", "protocol", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kiln_serve_request_duration_seconds",
			Help:    "Latency of inference requests, from decoded to answered.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .015, .02, .03, .05, .1, .25, 1}}, []string{"model", "protocol"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kiln_serve_batch_size",
			Help:    "Rows per batch run.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11)}, []string{"model", "version"}),
		batchLat: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kiln_serve_batch_duration_seconds",
			Help:    "Time to run one batch.",
			Buckets: []float64{.0001, .0005, .001, .002, .005, .01, .02, .05, .1}}, []string{"model", "version"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kiln_serve_queue_rows",
			Help: "Rows waiting in a model version's queue after its last batch."}, []string{"model", "version"}),
		batchLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kiln_serve_batch_limit",
			Help: "AIMD's current batch size limit."}, []string{"model", "version"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiln_serve_cache_hits_total",
			Help: "Rows answered from the prediction cache."}, []string{"model"}),
		cacheMiss: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiln_serve_cache_misses_total",
			Help: "Rows not found in the prediction cache."}, []string{"model"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiln_serve_rejections_total",
			Help: "Requests refused: queue_full, deadline (admission), in_flight (too many requests at once), expired (in queue or past the caller's deadline), canceled (the client left), unloaded (the version went away), bad_request, not_found, error."}, []string{"model", "reason"}),
		loaded: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kiln_serve_model_versions_loaded",
			Help: "Versions loaded per model."}, []string{"model"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.batchSize, m.batchLat, m.queueDepth, m.batchLimit,
		m.cacheHits, m.cacheMiss, m.rejections, m.loaded)
	return m
}

// dropVersion removes the series of a version that was unloaded.
func (m *metrics) dropVersion(model, version string) {
	for _, v := range []interface {
		DeleteLabelValues(...string) bool
	}{m.batchSize, m.batchLat, m.queueDepth, m.batchLimit} {
		v.DeleteLabelValues(model, version)
	}
}
