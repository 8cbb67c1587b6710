// Package validate checks data before it trains or reaches a model, as
// TensorFlow Data Validation does: statistics, a schema, anomalies, and
// drift and skew between data sets, fast on one machine.
//
// The pieces, from the bytes up:
//
//   - Readers (csvscan.go, read.go, jsonl.go, parquet.go). CSV goes through
//     a byte-level RFC 4180 scanner that hands out fields as slices of its
//     buffer: no allocation per field, a fast path for lines without a
//     quote (separators found eight bytes at a time), quoted fields with
//     "" escapes and newlines, comment lines, "a, b" spacing, a bound on
//     the record size. A large file is read by several goroutines, each a
//     byte range that starts at a record boundary. The boundaries are
//     proved, not guessed: a newline ends a record exactly when an even
//     number of quote characters precedes it, so a first parallel pass
//     counts quotes (and newlines, for line numbers in errors) per piece
//     and each cut moves to the first newline at even parity. JSON Lines
//     and Parquet (through Apache Arrow) feed the same statistics.
//   - Statistics (feature.go, stats.go) in one streaming pass, with memory
//     that does not grow with the rows. Per feature: the type the values
//     show (INT, FLOAT, BOOL, STRING), counts of present, missing, numeric,
//     integer and string values; for numbers, moments (mean, standard
//     deviation), min, max, zeros, NaN and infinities, deciles from a KLL
//     sketch (kll.go), and a fine histogram (grid.go) from which the
//     equal-width histograms are re-binned; for strings, average length
//     and counts of each value (topk.go: exact up to 2,048 distinct
//     values, then a Misra-Gries summary); for all, a HyperLogLog distinct
//     count (hll.go). Statistics of partitions merge into those of the
//     whole: counts, extremes, registers, exact value counts and the fine
//     histogram exactly, moments up to rounding (Chan's update), quantiles
//     within KLL's error bound. They serialise to JSON with their
//     sketches, so saved statistics merge and compare like fresh ones.
//   - Schema (schema.go, infer.go, update.go): human-editable YAML, with
//     per-feature type, presence, domain, range, NaN allowance, drift and
//     skew thresholds, and environments (a label not in SERVING). Infer
//     proposes one from statistics; Update proposes the next version that
//     new data satisfies and lists the differences.
//   - Anomalies (anomaly.go): Check compares statistics with a schema and
//     reports TFDV's core kinds (missing and new columns, type mismatch,
//     low presence, unexpected string values, out of range, NaN or
//     infinity, row count) plus invalid UTF-8 and ragged rows, each with a
//     kind, feature, severity, sentence and examples. As in TFDV, a
//     missing column is an anomaly only when the schema requires some
//     presence (presence.min_fraction above 0), and data without rows is
//     one unless row_count.min is 0.
//   - Drift and skew (drift.go): L-infinity distance between normalised
//     value counts for categorical features; Jensen-Shannon divergence
//     (bits) between histograms for numeric ones, over n equal-width bins
//     spanning both data sets' combined range [min(a, b), max(a, b)], a
//     value x in bin floor((x-lo)/((hi-lo)/n)) clamped to the last
//     (EqualWidthBin). The histograms come from the fine grid: exact where
//     a grid bin holds one distinct value, shared out by overlap where a
//     bin of several values straddles an edge, hence "approximate".
//   - Report (report.go): one self-contained HTML page, a table per kind
//     of feature with histograms or top values of the current and base data
//     drawn side by side in inline SVG, anomalies and distances over
//     threshold highlighted.
//
// Everything but the readers and Save/Load is pure: values in, values out.
//
// The fine grid (Grid) is the one structure of this package's own making:
// bin k holds [k·2^e, (k+1)·2^e), e the smallest power of two at which the
// data's range spans at most 8,192 bins. e depends on the minimum and
// maximum only, so partitions' grids, coarsened to the larger e by pairing
// bins, add up to the grid of the union bin for bin.
package validate
