package healthlb

import "math"

// peakEWMA is a latency estimate in the style of Finagle's PeakEwma: a
// sample above the estimate replaces it at once (the peak), a sample below
// it is blended in with a weight that grows with the time since the
// previous sample. Times are scoreboard nanoseconds (see Scoreboard.nanos).
//
// Reading the estimate decays it toward zero, exp(-idle/τ), which is what
// Finagle's observe(0)-on-read gives, so an upstream that was slow long ago
// looks cheap again and gets re-probed; its in-flight factor in the cost
// bounds how many requests the probe attracts before the first answer comes
// back. Unlike Finagle the read does not write the decayed value back: the
// blending weight of the next sample always measures the time since the
// previous sample, and a read changes nothing.
//
// peakEWMA is not safe for concurrent use; Upstream guards it.
type peakEWMA struct {
	cost  float64 // estimate in nanoseconds as of stamp
	stamp int64   // time of the last sample
	known bool    // whether any sample arrived yet
}

// observe records a round-trip time of rtt nanoseconds taken at now, with
// decay time constant tau in nanoseconds.
func (e *peakEWMA) observe(now int64, rtt, tau float64) {
	switch {
	case !e.known:
		e.cost, e.known = rtt, true
	case rtt > e.cost:
		e.cost = rtt
	default:
		w := decayWeight(now-e.stamp, tau)
		e.cost = e.cost*w + rtt*(1-w)
	}
	e.stamp = max(now, e.stamp)
}

// value returns the estimate at now, decayed toward zero for the time since
// the last sample, and whether any sample arrived yet.
func (e *peakEWMA) value(now int64, tau float64) (float64, bool) {
	if !e.known {
		return 0, false
	}
	return e.cost * decayWeight(now-e.stamp, tau), true
}

// decayWeight returns exp(-elapsed/tau); a negative elapsed (a clock that
// went backwards) counts as zero.
func decayWeight(elapsed int64, tau float64) float64 {
	if elapsed <= 0 {
		return 1
	}
	return math.Exp(-float64(elapsed) / tau)
}
