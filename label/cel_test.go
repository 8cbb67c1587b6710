package label

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const testSpec = `classes: [HAM, SPAM]
lists:
  promo: [subscribe, channel]
functions:
  - name: promo
    expr: 'has_any_word(r.text, promo) ? SPAM : ABSTAIN'
  - name: link
    expr: 'has_any(r.text, ["http", "www."]) ? dyn("SPAM") : ABSTAIN'
  - name: short
    expr: 'word_count(r.text) <= 3 ? HAM : ABSTAIN'
  - name: stars
    expr: 'num(r.stars) >= 4 ? HAM : ABSTAIN'
  - name: regex
    expr: 'matches(lower(r.text), "check\\s+(it\\s+)?out") ? 1 : -1'
`

func records(texts []string, stars []any) []Record {
	out := make([]Record, len(texts))
	for i, s := range texts {
		out[i] = Record{"text": s, "stars": stars[i]}
	}
	return out
}

func TestCELFunctions(t *testing.T) {
	set, err := ParseSpec([]byte(testSpec), "spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	recs := records([]string{
		"Please SUBSCRIBE to my channel",
		"cool song",
		"check it out www.example.com",
		"ｈｔｔｐ full width link and more words",
		"a very fine song indeed, the best",
	}, []any{"5", int64(1), "x", 4.5, nil})
	L, st, err := ApplyRecords(set, recs, ApplyOptions{Workers: 2, ChunkRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{
		{1, -1, -1, 0, -1},
		{-1, -1, 0, -1, -1},
		{-1, 1, -1, -1, 1},
		{-1, 1, -1, 0, -1},
		{-1, -1, -1, -1, -1},
	}
	if got := L.Dense(); !reflect.DeepEqual(got, want) {
		t.Fatalf("votes\n%v\nwant\n%v", got, want)
	}
	// num("x") and num(null) fail: the function abstains and counts them.
	if !reflect.DeepEqual(st.Errors, []int{0, 0, 0, 2, 0}) {
		t.Fatalf("errors %v, want the stars function failing twice", st.Errors)
	}
	if !strings.Contains(st.FirstError[3], "record 2") {
		t.Fatalf("first error %q does not name record 2", st.FirstError[3])
	}
}

func TestCELCompileErrorsNameFunctionAndPosition(t *testing.T) {
	spec := `classes: [HAM, SPAM]
functions:
  - name: fine
    expr: 'SPAM'
  - name: broken
    expr: 'has_word(r.text, "x") ? SPAM : UNKNOWN_CLASS'
  - name: bad_syntax
    expr: |
      word_count(r.text) >
  - name: wrong_type
    expr: 'word_count(r.text) > 3'
`
	_, err := ParseSpec([]byte(spec), "lfs.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`lfs.yaml:6: labeling function "broken": expression line 1, column 32: undeclared reference to 'UNKNOWN_CLASS'`,
		`lfs.yaml:10: labeling function "bad_syntax": expression line 2, column 1: Syntax error`,
		`lfs.yaml:11: labeling function "wrong_type": expression returns bool`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, `"fine"`) {
		t.Errorf("error blames the correct function:\n%s", msg)
	}
}

func TestCELLabelOutsideClasses(t *testing.T) {
	for _, expr := range []string{`'2'`, `'"EGGS"'`, `'-3'`, `'r.text == "a" ? dyn("EGGS") : HAM'`} {
		set, err := ParseSpec([]byte("classes: [HAM, SPAM]\nfunctions:\n  - name: bad\n    expr: "+expr+"\n"), "s.yaml")
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ApplyRecords(set, records([]string{"a", "b"}, []any{1, 2}), ApplyOptions{})
		if !errors.Is(err, ErrOutsideClasses) || !strings.Contains(err.Error(), `"bad"`) {
			t.Errorf("expr %s: error %v, want ErrOutsideClasses naming the function", expr, err)
		}
	}
}

func TestCELMultiLabel(t *testing.T) {
	spec := `classes: [music, spam, question]
multi_label: true
functions:
  - name: song
    class: music
    expr: 'has_word(r.text, "song") ? PRESENT : ABSTAIN'
  - name: link
    class: spam
    expr: 'has_any(r.text, ["http"]) ? PRESENT : ABSENT'
  - name: ask
    class: question
    expr: 'r.text.endsWith("?") ? PRESENT : ABSTAIN'
`
	set, err := ParseSpec([]byte(spec), "ml.yaml")
	if err != nil {
		t.Fatal(err)
	}
	L, _, err := ApplyRecords(set, records([]string{"what song?", "http://x"}, []any{0, 0}), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !L.MultiLabel() || !reflect.DeepEqual(L.Tasks, []int{0, 1, 2}) {
		t.Fatalf("tasks %v", L.Tasks)
	}
	if got := L.Dense(); !reflect.DeepEqual(got, [][]int{{1, 0, 1}, {-1, 1, -1}}) {
		t.Fatalf("votes %v", got)
	}
	if _, err := ParseSpec([]byte(strings.Replace(spec, "class: music", "class: polka", 1)), "ml.yaml"); err == nil {
		t.Fatal("unknown class accepted")
	}
}

func TestGoLabelingFunctions(t *testing.T) {
	long := NewLF("long", func(r Record) (int, error) {
		if len(r["text"].(string)) > 10 {
			return 1, nil
		}
		return Abstain, nil
	})
	panicky := NewLF("panicky", func(r Record) (int, error) {
		if r["text"] == "boom" {
			panic("boom")
		}
		return 0, nil
	})
	failing := NewLF("failing", func(Record) (int, error) { return 0, errors.New("no") })
	set, err := NewSet([]string{"a", "b"}, long, panicky, failing)
	if err != nil {
		t.Fatal(err)
	}
	L, st, err := ApplyRecords(set, records([]string{"boom", "a longer text"}, []any{0, 0}), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := L.Dense(); !reflect.DeepEqual(got, [][]int{{-1, -1, -1}, {1, 0, -1}}) {
		t.Fatalf("votes %v", got)
	}
	if !reflect.DeepEqual(st.Errors, []int{0, 1, 2}) || !strings.Contains(st.FirstError[1], "panic: boom") {
		t.Fatalf("errors %v %q", st.Errors, st.FirstError)
	}
	bad := NewLF("bad", func(Record) (int, error) { return 7, nil })
	set2, _ := NewSet([]string{"a", "b"}, bad)
	var le *LabelError
	if _, _, err := ApplyRecords(set2, records([]string{"x"}, []any{0}), ApplyOptions{}); !errors.As(err, &le) || le.Value != 7 {
		t.Fatalf("label 7 of 2 classes: %v", err)
	}
	if _, err := NewSet([]string{"a", "b"}, long, long); err == nil {
		t.Fatal("duplicate names accepted")
	}
}

// TestApplyParallelEqualsSerial: chunking and workers change nothing.
func TestApplyParallelEqualsSerial(t *testing.T) {
	set, err := ParseSpec([]byte(testSpec), "spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	words := []string{"subscribe", "channel", "cool", "check", "out", "www.x.com", "song", "it"}
	var recs []Record
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		for w := 0; w < 1+i%7; w++ {
			b.WriteString(words[(i*7+w*3)%len(words)] + " ")
		}
		recs = append(recs, Record{"text": b.String(), "stars": int64(i % 6)})
	}
	ref, _, err := ApplyRecords(set, recs, ApplyOptions{Workers: 1, ChunkRows: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []ApplyOptions{{Workers: 4, ChunkRows: 7}, {Workers: 3, ChunkRows: 1000}} {
		got, _, err := ApplyRecords(set, recs, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Dense(), ref.Dense()) {
			t.Fatalf("%+v: matrix differs from the serial one", opt)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(testSpec))
	f.Add([]byte("classes: [A, B]\nfunctions:\n  - name: x\n    expr: 'A'\n"))
	f.Add([]byte("classes: [a]\nmulti_label: true\nfunctions:\n  - {name: y, class: a, expr: 'PRESENT'}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		set, err := ParseSpec(b, "fuzz.yaml")
		if err != nil {
			return
		}
		if err := set.Validate(); err != nil {
			t.Fatalf("compiled an invalid set: %v", err)
		}
		// Functions must run on an empty record without panicking.
		for _, lf := range set.LFs {
			lf.Label(Record{})
		}
	})
}
