//go:build race

package data

// raceEnabled is set under -race, where the tests that only crunch the
// real data sets (no concurrency to check) are skipped to save minutes.
const raceEnabled = true
