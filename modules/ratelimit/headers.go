package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// setHeaders adds the RateLimit-Policy and RateLimit fields of the IETF
// draft (draft-ietf-httpapi-ratelimit-headers) for the rate zones that
// decided a request: per zone, its quota q of events per window w
// seconds, and the remaining r requests with t seconds until the quota
// is whole again.
func setHeaders(h http.Header, zs []*Zone, ds []decision) {
	var policy, state strings.Builder
	for i, z := range zs {
		if i > 0 {
			policy.WriteString(", ")
			state.WriteString(", ")
		}
		d := ds[i]
		policy.WriteString(strconv.Quote(z.Name))
		policy.WriteString(";q=")
		policy.WriteString(strconv.Itoa(z.Events))
		policy.WriteString(";w=")
		policy.WriteString(strconv.FormatInt(ceilSeconds(time.Duration(z.Window)), 10))
		state.WriteString(strconv.Quote(z.Name))
		state.WriteString(";r=")
		state.WriteString(strconv.FormatInt(d.remaining, 10))
		state.WriteString(";t=")
		state.WriteString(strconv.FormatInt(ceilSeconds(d.reset), 10))
	}
	h.Set("RateLimit-Policy", policy.String())
	h.Set("RateLimit", state.String())
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
