package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names, in Go's canonical form (HTTP field names are
// case-insensitive), set straight into the map to skip canonicalising on
// every request.
const (
	headerPolicy = "Ratelimit-Policy"
	headerState  = "Ratelimit"
)

// policyItem is a zone's item of the RateLimit-Policy field: its quota q
// of events per window w seconds.
func (z *Zone) policyItem() string {
	return strconv.Quote(z.Name) + ";q=" + strconv.Itoa(z.Events) + ";w=" +
		strconv.FormatInt(ceilSeconds(time.Duration(z.Window)), 10)
}

// setHeaders adds the RateLimit-Policy and RateLimit fields of the IETF
// draft (draft-ietf-httpapi-ratelimit-headers) for the rate zones that
// decided a request: per zone its policy, and the remaining r requests
// with t seconds until the quota is whole again.
func setHeaders(h http.Header, zs []*Zone, ds []decision) {
	policies := make([]string, len(zs))
	buf := make([]byte, 0, 64)
	for i, z := range zs {
		policies[i] = z.policy
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = append(buf, z.quoted...)
		buf = append(buf, ";r="...)
		buf = strconv.AppendInt(buf, ds[i].remaining, 10)
		buf = append(buf, ";t="...)
		buf = strconv.AppendInt(buf, ceilSeconds(ds[i].reset), 10)
	}
	h[headerPolicy] = []string{strings.Join(policies, ", ")}
	h[headerState] = []string{string(buf)}
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
