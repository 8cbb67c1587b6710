package rowdelete

import (
	"bufio"
	"encoding/csv"
	"io"
)

// csvReader is encoding/csv's reader over a buffered stream, with every
// record required to have the header's field count and the spaces after a
// separator dropped from the fields it returns (Adult's "39, State-gov"),
// as data.CSVOptions.TrimSpace does; the bytes copied are not changed.
type csvReader = csv.Reader

func newCSV(r io.Reader) *csvReader {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.FieldsPerRecord = 0
	cr.TrimLeadingSpace = true
	return cr
}
