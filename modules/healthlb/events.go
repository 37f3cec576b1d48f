package healthlb

import "time"

// EventKind says what happened to an upstream.
type EventKind uint8

// The events a Scoreboard reports.
const (
	// EventEjected: the upstream crossed an ejection threshold and was
	// taken out of selection until Event.Until.
	EventEjected EventKind = iota + 1
	// EventRejoined: the upstream's ejection ran out; it is back in
	// selection and in slow start.
	EventRejoined
	// EventEjectionCapped: the upstream crossed an ejection threshold but
	// stays in selection, because ejecting it would exceed
	// Config.MaxEjectionPercent.
	EventEjectionCapped
)

// String returns the kind's name as used in logs and event names.
func (k EventKind) String() string {
	switch k {
	case EventEjected:
		return "ejected"
	case EventRejoined:
		return "rejoined"
	case EventEjectionCapped:
		return "ejection_capped"
	}
	return "unknown"
}

// Event is a state change of one upstream. Handlers run synchronously on
// the goroutine that noticed the change (a request's, usually) and after
// the upstream's lock is released, so they may read the scoreboard but
// should return quickly.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Upstream is the upstream's dial address.
	Upstream string
	// Time is when it happened. A rejoin is noticed lazily, at the next
	// access after the ejection ran out; Time is when it ran out.
	Time time.Time
	// Until is the end of the ejection (EventEjected only).
	Until time.Time
	// Ejections is the upstream's ejection multiplier after the event.
	Ejections int
	// Reason is the outcome whose streak crossed the threshold:
	// OutcomeServerError for Consecutive5xx, OutcomeGatewayError for
	// ConsecutiveGatewayErrors (EventEjected and EventEjectionCapped only).
	Reason Outcome
}

// events collects the events of one locked section, to be emitted after
// the lock is released. At most two can happen at once: a rejoin followed
// by a new ejection.
type events struct {
	list [2]Event
	n    int
}

func (e *events) add(ev Event) {
	if e.n < len(e.list) {
		e.list[e.n] = ev
		e.n++
	}
}
