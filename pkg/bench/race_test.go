//go:build race

package bench_test

// raceEnabled: the race detector drops sync.Pool items at random, so the
// product (which reuses keyed HMACs through a pool) allocates more than it
// does in a normal build; TestAllocationBudget runs without it (.ci/run).
const raceEnabled = true
