package validate_test

import (
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/validate"
)

// Statistics of a training span become a schema; a serving span with a
// new category and a string in a numeric column breaks it.
func Example() {
	train := "fare,payment\n5.5,Cash\n7.25,Card\n12,Cash\n"
	serve := "fare,payment\n6,Cash\nfree,Bitcoin\n9.5,Card\n"
	st, err := validate.ComputeCSV(strings.NewReader(train), "train.csv", validate.CSVOptions{})
	if err != nil {
		panic(err)
	}
	schema := validate.Infer(st, validate.InferOptions{})
	sv, err := validate.ComputeCSV(strings.NewReader(serve), "serve.csv", validate.CSVOptions{})
	if err != nil {
		panic(err)
	}
	for _, a := range validate.Check(sv, schema, "") {
		fmt.Println(a.Kind, a.Feature, a.Examples)
	}
	d := validate.Compare(st, sv, schema, validate.CompareOptions{})
	fmt.Printf("%s %s %.4f\n", d[1].Feature, d[1].Measure, d[1].Value)
	// Output:
	// UNEXPECTED_DATA_TYPE fare ["free"]
	// ENUM_TYPE_UNEXPECTED_STRING_VALUES payment ["Bitcoin"]
	// payment l_infinity 0.3333
}
