package healthlb

// windowBuckets is the number of buckets in an outcome window.
const windowBuckets = 10

// Counts are the outcomes recorded for an upstream over its rolling window.
type Counts struct {
	// Success counts responses that were neither 5xx nor 429.
	Success uint64 `json:"success"`
	// ServerErrors counts 5xx responses that were not gateway errors.
	ServerErrors uint64 `json:"server_errors"`
	// GatewayErrors counts dial errors, timeouts and 502, 503 and 504.
	GatewayErrors uint64 `json:"gateway_errors"`
	// TooManyRequests counts 429 responses.
	TooManyRequests uint64 `json:"too_many_requests"`
}

// Errors returns the number of server and gateway errors.
func (c Counts) Errors() uint64 { return c.ServerErrors + c.GatewayErrors }

// Total returns the number of all outcomes.
func (c Counts) Total() uint64 {
	return c.Success + c.ServerErrors + c.GatewayErrors + c.TooManyRequests
}

func (c *Counts) add(o Outcome) {
	switch o {
	case OutcomeSuccess:
		c.Success++
	case OutcomeServerError:
		c.ServerErrors++
	case OutcomeGatewayError:
		c.GatewayErrors++
	case OutcomeTooManyRequests:
		c.TooManyRequests++
	}
}

func (c *Counts) merge(o Counts) {
	c.Success += o.Success
	c.ServerErrors += o.ServerErrors
	c.GatewayErrors += o.GatewayErrors
	c.TooManyRequests += o.TooManyRequests
}

// window counts outcomes over the last windowBuckets buckets of width
// nanoseconds each: a ring indexed by bucket number modulo its size, where a
// bucket whose number is stale is treated as empty. window is not safe for
// concurrent use; Upstream guards it.
type window struct {
	width   int64
	buckets [windowBuckets]struct {
		num    int64 // now/width of the bucket's span
		counts Counts
	}
}

// reset empties the window and sets the bucket width for a window of length
// nanoseconds.
func (w *window) reset(length int64) {
	*w = window{width: max(length/windowBuckets, 1)}
}

// add records one outcome at now (scoreboard nanoseconds, not negative).
func (w *window) add(now int64, o Outcome) {
	num := now / w.width
	b := &w.buckets[num%windowBuckets]
	if b.num != num {
		b.num, b.counts = num, Counts{}
	}
	b.counts.add(o)
}

// sum returns the counts of the buckets that cover (now-length, now].
func (w *window) sum(now int64) Counts {
	num := now / w.width
	var c Counts
	for i := range w.buckets {
		b := &w.buckets[i]
		if b.num <= num && num-b.num < windowBuckets {
			c.merge(b.counts)
		}
	}
	return c
}
