package bench

import "slices"

// paired is a result of one system in one round: the product and the bare
// system of a round ran back to back, so their ratio cancels what else the
// machine was doing in that round.
type paired interface {
	round() (n int, bare bool)
}

func (r Result) round() (int, bool)       { return r.Round, r.System == "bare" }
func (r IngestResult) round() (int, bool) { return r.Round, r.System == "bare" }

// pairedRatios is product/bare of f, one per round, sorted, over the
// results that in keeps. A round whose bare figure is missing or zero
// gives none.
func pairedRatios[R paired](rs []R, in func(R) bool, f func(R) float64) []float64 {
	byRound := map[int][2]float64{}
	for _, r := range rs {
		if !in(r) {
			continue
		}
		n, bare := r.round()
		p := byRound[n]
		if bare {
			p[0] = f(r)
		} else {
			p[1] = f(r)
		}
		byRound[n] = p
	}
	var out []float64
	for _, p := range byRound {
		if p[0] > 0 {
			out = append(out, p[1]/p[0])
		}
	}
	slices.Sort(out)
	return out
}
