package pipeline

import (
	"context"
	"time"
)

// Recorder is what a pipeline run tells the metadata store: the run,
// then each step's outcome, then the end. cmd/kiln adapts the store to
// it; a nil Recorder records nothing. Child processes record their own
// runs; they find the pipeline run's id in KILN_PARENT_RUN.
type Recorder interface {
	// StartPipeline records the start of a run and returns its id.
	StartPipeline(ctx context.Context, r PipelineStart) (runID string, err error)
	// RecordStep records one step's outcome, cached and blocked steps
	// included.
	RecordStep(ctx context.Context, runID string, s StepResult) error
	// EndPipeline closes the run with status "succeeded" or "failed".
	EndPipeline(ctx context.Context, runID string, status string) error
}

// PipelineStart describes a pipeline run as it starts.
type PipelineStart struct {
	File       string      `json:"file"`
	FileSHA256 string      `json:"file_sha256"`
	Args       []string    `json:"args"`
	Code       CodeVersion `json:"code"`
	Steps      []string    `json:"steps"`
	Started    time.Time   `json:"started"`
}
