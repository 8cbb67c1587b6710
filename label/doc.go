// Package label is Kiln's programmatic labeling (weak supervision): many
// noisy labeling functions vote on unlabeled records, a label model learns
// how far to trust each one without ground truth, and an end model trains
// on the resulting probabilistic labels.
//
// # Pieces
//
//   - Labeling functions (lf.go, cel.go): an LF returns a class id or
//     Abstain. They are written in Go (NewLF) or declared in YAML as CEL
//     expressions over a record r (ParseSpec, LoadSpec; see Spec and
//     CELHelpers). Every expression is compiled before anything runs, and a
//     compile error names the function, the file line and the column.
//   - Applying (apply.go, read.go, parquet.go): Apply runs a Set over a
//     RecordSource (CSV, JSON Lines or Parquet files, or records in memory)
//     in parallel chunks and returns a sparse label Matrix in the source's
//     order. A function that fails on a record abstains there and is
//     counted in ApplyStats; one that returns a label outside the declared
//     classes stops the run with a LabelError.
//   - Analysis (analysis.go): Analyze reports, per function, polarity,
//     coverage, overlaps, conflicts and, with gold labels, empirical
//     accuracy, as Snorkel's LFAnalysis does.
//   - Label models (model.go and one file per model): MajorityVote,
//     DawidSkene (EM with abstain as an outcome), MatrixCompletion (the
//     model of Ratner et al., AAAI 2019, Snorkel's LabelModel) and
//     MultiLabel (one binary model per class, for multi-label tasks). All
//     implement Model and pass the suite in label/labeltest. Models are pure:
//     they take a matrix and return numbers. Predict turns probabilities
//     into classes with a documented TieBreak shared by every model.
//   - Model selection and benchmarks (selection.go, wrench.go, synth.go):
//     Select picks a configuration on labeled validation rows; LoadWrench
//     and EvaluateWrench run the WRENCH benchmark format; Synthesize draws
//     matrices from known accuracies for tests and benchmarks.
//   - End model (features.go, endmodel.go): TextFeaturizer (words, word and
//     character n-grams, TF-IDF, vocabulary or hashing) and
//     TabularFeaturizer turn records into sparse features, and
//     NNClassifier, built from packages nn and autograd, trains logistic
//     regression or an MLP on the soft-label cross-entropy.
//
// # Fitting the matrix-completion model fast
//
// Fit makes one sparse pass over the matrix to count the overlap matrix O
// (each worker counts the upper triangle of its rows into its own integer
// table; the tables are summed), and, when the class balance is estimated,
// one pass over a row sample to count third moments of sampled triples of
// functions and a short Dawid-Skene run on at most 20,000 rows for a
// starting balance. The optimisation then works on (M·K)×K numbers and does
// not depend on the number of rows: a 1,000,000 × 100 matrix fits in about
// 0.2 s on two cores (bench/label_fit).
//
// # Label matrix file
//
// Save and LoadMatrix use this little-endian format (version 1):
//
//	offset  size  field
//	0       8     magic "KILNLM\x00\x01"
//	8       8     N, rows (uint64)
//	16      4     M, labeling functions (uint32)
//	20      4     K, classes (uint32)
//	24      1     flags: bit 0 multi-label, bit 1 class names present
//	25      7     reserved, zero
//	32      …     M names, each uvarint length + UTF-8 bytes
//	        …     if flag bit 1: K class names, same encoding
//	        …     if flag bit 0: M uvarint tasks (the class of each function)
//	        …     N rows: uvarint vote count, then per vote the uvarint gap
//	              to the previous function index (first: the index) and the
//	              uvarint vote
//	end-4   4     CRC-32C (Castagnoli) of every byte before it
//
// Writes are atomic (a temporary file, synced and renamed), and decoding
// checks the checksum, every bound and every vote before returning.
package label
