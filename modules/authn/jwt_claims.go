package authn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// claimSet is a token's payload, each claim still as raw JSON, so that
// every claim is read with the one type it must have.
type claimSet map[string]json.RawMessage

// parseClaims reads a payload, which must be one JSON object.
func parseClaims(payload []byte) (claimSet, error) {
	var cs claimSet
	d := json.NewDecoder(bytes.NewReader(payload))
	if err := d.Decode(&cs); err != nil {
		return nil, fmt.Errorf("payload is not a JSON object: %v", err)
	}
	if cs == nil || d.More() {
		return nil, fmt.Errorf("payload is not one JSON object")
	}
	return cs, nil
}

// numericDate reads a NumericDate claim (RFC 7519 §2): a JSON number of
// seconds. ok is false when the claim is absent.
func (cs claimSet) numericDate(name string) (t time.Time, ok bool, err error) {
	raw, present := cs[name]
	if !present {
		return time.Time{}, false, nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return time.Time{}, true, fmt.Errorf("claim %q is not a number", name)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, true, fmt.Errorf("claim %q is not a valid date", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// str reads a claim that must be a JSON string.
func (cs claimSet) str(name string) (s string, ok bool, err error) {
	raw, present := cs[name]
	if !present {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil || bytes.TrimSpace(raw)[0] != '"' {
		return "", true, fmt.Errorf("claim %q is not a string", name)
	}
	return s, true, nil
}

// strings reads a claim that may be a string or an array of strings, as
// "aud" (RFC 7519 §4.1.3). An array must hold only strings and must not be
// empty.
func (cs claimSet) strings(name string) (list []string, ok bool, err error) {
	raw, present := cs[name]
	if !present {
		return nil, false, nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, true, fmt.Errorf("claim %q is not a string", name)
		}
		return []string{s}, true, nil
	}
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, true, fmt.Errorf("claim %q is neither a string nor a non-empty array of strings", name)
	}
	for _, s := range list {
		if s == "" {
			return nil, true, fmt.Errorf("claim %q holds an empty string", name)
		}
	}
	return list, true, nil
}

// text renders a claim for a placeholder or a header: a string as is, an
// array of strings joined by spaces (the form of OAuth's "scope"), any
// other JSON value as its compact JSON text.
func (cs claimSet) text(name string) (string, bool) {
	raw, present := cs[name]
	if !present {
		return "", false
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, true
		}
	}
	if raw[0] == '[' {
		var list []string
		if json.Unmarshal(raw, &list) == nil {
			return strings.Join(list, " "), true
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return "", false
	}
	return buf.String(), true
}

// has reports whether claim name grants value: the claim is a string that
// equals value or holds it as one of its space-separated words (OAuth's
// "scope"), or an array that holds value as one of its strings.
func (cs claimSet) has(name, value string) bool {
	list, _, err := cs.strings(name)
	if err != nil {
		return false
	}
	if len(list) == 1 {
		if list[0] == value {
			return true
		}
		return slices.Contains(strings.Fields(list[0]), value)
	}
	return slices.Contains(list, value)
}

// timeRules are the time checks of a token.
type timeRules struct {
	leeway     time.Duration
	requireExp bool
}

// window checks exp, nbf and iat at now, and returns the span in which the
// token's verdict holds (for the cache).
func (tr timeRules) window(cs claimSet, now time.Time) (notBefore, until time.Time, f *failure) {
	exp, hasExp, err := cs.numericDate("exp")
	if err != nil {
		return notBefore, until, &failure{401, "invalid_token", "malformed_claims", "The token is not valid."}
	}
	if !hasExp && tr.requireExp {
		return notBefore, until, &failure{401, "invalid_token", "missing_exp", "The token has no expiry time."}
	}
	if hasExp {
		until = exp.Add(tr.leeway)
		if !now.Before(until) {
			return notBefore, until, &failure{401, "invalid_token", "expired", "The token has expired."}
		}
	} else {
		until = now.Add(maxCacheHold)
	}
	nbf, hasNbf, err := cs.numericDate("nbf")
	if err != nil {
		return notBefore, until, &failure{401, "invalid_token", "malformed_claims", "The token is not valid."}
	}
	if hasNbf {
		notBefore = nbf.Add(-tr.leeway)
		if now.Before(notBefore) {
			return notBefore, until, &failure{401, "invalid_token", "not_yet_valid", "The token is not valid yet."}
		}
	}
	iat, hasIat, err := cs.numericDate("iat")
	if err != nil {
		return notBefore, until, &failure{401, "invalid_token", "malformed_claims", "The token is not valid."}
	}
	if hasIat && iat.After(now.Add(tr.leeway)) {
		return notBefore, until, &failure{401, "invalid_token", "issued_in_future", "The token is not valid yet."}
	}
	return notBefore, until, nil
}
