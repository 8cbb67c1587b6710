//go:build race

package serve

// raceEnabled is set under -race, where timings are several times slower
// and the overload test checks behaviour but not latency.
const raceEnabled = true
