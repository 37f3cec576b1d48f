package healthlb

import "time"

// Clock tells the current time. The scoreboard reads time only through its
// Clock, so tests can move time by hand.
type Clock interface {
	// Now returns the current time. Times with a monotonic clock reading
	// (as returned by time.Now) are preferred: the scoreboard only ever
	// subtracts them.
	Now() time.Time
}

// SystemClock is the Clock of the running process: it returns time.Now().
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Interface guard
var _ Clock = SystemClock{}
