package label_test

import (
	"testing"

	"github.com/kiln-ml/kiln/label"
	"github.com/kiln-ml/kiln/label/labeltest"
)

func TestMajorityVoteSuite(t *testing.T) {
	labeltest.TestModel(t, func() label.Model { return &label.MajorityVote{} }, labeltest.Options{})
}

func TestDawidSkeneSuite(t *testing.T) {
	labeltest.TestModel(t, func() label.Model { return &label.DawidSkene{} }, labeltest.Options{Learns: true, AbstainEvidence: true})
}

func TestMatrixCompletionSuite(t *testing.T) {
	labeltest.TestModel(t, func() label.Model { return &label.MatrixCompletion{} }, labeltest.Options{Learns: true})
}

func TestMatrixCompletionAbstainEvidenceSuite(t *testing.T) {
	labeltest.TestModel(t, func() label.Model { return &label.MatrixCompletion{AbstainEvidence: true} },
		labeltest.Options{Learns: true, AbstainEvidence: true})
}
