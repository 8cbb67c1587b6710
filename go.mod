module github.com/kiln-ml/kiln

go 1.26.0

require (
	cel.dev/cel-go v0.33.2 // indirect
	github.com/apache/arrow-go/v18 v18.8.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/term v0.47.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
