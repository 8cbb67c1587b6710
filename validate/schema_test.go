package validate

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSchemaErrorsNameLine checks that each inconsistent schema is refused
// with the file, the line of the offending setting and the feature.
func TestSchemaErrorsNameLine(t *testing.T) {
	head := "version: 1\nenvironments: [TRAINING, SERVING]\nfeatures:\n  - name: a\n    type: INT\n"
	for name, c := range map[string]struct{ doc, want string }{
		"unknown type":        {"version: 1\nfeatures:\n  - name: a\n    type: INTEGER\n", `s.yaml:4: feature "a": type "INTEGER"`},
		"fraction over 1":     {head + "    presence: {min_fraction: 2}\n", `s.yaml:6: feature "a": presence.min_fraction 2 not in [0, 1]`},
		"duplicate":           {head + "  - name: b\n    type: INT\n  - name: a\n    type: INT\n", `s.yaml:8: feature "a": twice`},
		"range":               {head + "    range: {min: 5, max: 1}\n", `s.yaml:6: feature "a": range min 5 above max 1`},
		"negative drift":      {head + "    drift: {jensen_shannon: -0.1}\n", `s.yaml:6: feature "a": drift.jensen_shannon -0.1 not in [0, 1]`},
		"skew over 1":         {head + "    skew:\n      l_infinity: 1.5\n", `s.yaml:6: feature "a": skew.l_infinity 1.5 not in [0, 1]`},
		"domain mass":         {head + "    min_domain_mass: -1\n", `s.yaml:6: feature "a": min_domain_mass -1 not in [0, 1]`},
		"unknown env":         {head + "    not_in_environment: [SERVNG]\n", `s.yaml:6: feature "a": environment "SERVNG" is not in`},
		"row count":           {"version: 1\nrow_count: {min: 10, max: 2}\nfeatures: []\n", `s.yaml:2: row_count min 10 above max 2`},
		"default env":         {"version: 1\ndefault_environment: X\nfeatures: []\n", `s.yaml:2: default_environment "X"`},
		"no name":             {head + "  - type: INT\n", `s.yaml:6: feature 2 has no name`},
		"misspelt key (yaml)": {head + "    presense: {min_fraction: 1}\n", `line 6: field presense not found`},
	} {
		_, err := DecodeSchema([]byte(c.doc), "s.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
	// Thresholds at the ends of [0, 1] are fine.
	if _, err := DecodeSchema([]byte(head+"    drift: {jensen_shannon: 0, l_infinity: 1}\n"), "s.yaml"); err != nil {
		t.Errorf("thresholds 0 and 1: %v", err)
	}
}

// TestSchemaJSONKeys: a schema printed as JSON (the --json output of
// infer and update) uses the YAML file's keys, so that the JSON reads
// back as a schema (JSON is YAML) and equals it.
func TestSchemaJSONKeys(t *testing.T) {
	doc := "version: 3\nenvironments: [TRAINING, SERVING]\nrow_count: {min: 10}\nfeatures:\n" +
		"  - name: a\n    type: FLOAT\n    presence: {min_fraction: 0.5}\n    range: {max: 9}\n    allow_nan: true\n    drift: {jensen_shannon: 0.2, bins: 20}\n" +
		"  - name: b\n    type: STRING\n    presence: {min_fraction: 1}\n    domain: [x, y]\n    min_domain_mass: 0.9\n    not_in_environment: [SERVING]\n"
	s, err := DecodeSchema([]byte(doc), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSchema(b, "s.json")
	if err != nil {
		t.Fatalf("the JSON does not read back as a schema: %v\n%s", err, b)
	}
	y1, _ := s.Encode()
	y2, _ := back.Encode()
	if string(y1) != string(y2) {
		t.Errorf("round trip through JSON changed the schema:\n%s\n%s", y1, y2)
	}
}
