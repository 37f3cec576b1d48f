// Package friendly writes every answer Frontdesk generates on its own behalf
// (401, 403, 429, 503): a short body that helps a legitimate client and tells
// an attacker nothing, as JSON or HTML by the request's Accept header, with
// Retry-After where a wait applies. Handlers of every Frontdesk module answer
// through Write, so all such answers look alike.
package friendly

import (
	"encoding/json"
	"html"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Answer is one generated response.
type Answer struct {
	// Status is the HTTP status code.
	Status int
	// Code is a short machine-readable reason in snake_case, such as
	// "rate_limited" or "invalid_token"; it is the "error" field of the
	// JSON body.
	Code string
	// Message is one sentence for a person. It must not contain secrets
	// or details that help an attacker.
	Message string
	// RetryAfter, when positive, is sent as Retry-After in whole seconds
	// (rounded up, at least 1) and in the body.
	RetryAfter time.Duration
}

// jsonBody is the JSON form of an Answer.
type jsonBody struct {
	Status            int    `json:"status"`
	Error             string `json:"error"`
	Message           string `json:"message"`
	RetryAfterSeconds int    `json:"retry_after_seconds,omitempty"`
}

// RetryAfterSeconds formats d as the delay-seconds of a Retry-After header:
// rounded up, at least one second.
func RetryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(retrySeconds(d))
}

func retrySeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}

// Write sends a as the response to r. Headers already set on w (for example
// WWW-Authenticate or RateLimit) are kept. The body is HTML when the client
// prefers text/html to JSON, JSON otherwise. Answers are never cached.
func Write(w http.ResponseWriter, r *http.Request, a Answer) error {
	h := w.Header()
	retry := 0
	if a.RetryAfter > 0 {
		retry = retrySeconds(a.RetryAfter)
		h.Set("Retry-After", strconv.Itoa(retry))
	}
	var body []byte
	if prefersHTML(r.Header.Values("Accept")) {
		title := html.EscapeString(strconv.Itoa(a.Status) + " " + http.StatusText(a.Status))
		body = []byte("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + title +
			"</title></head>\n<body><h1>" + title + "</h1>\n<p>" + html.EscapeString(a.Message) + "</p></body></html>\n")
		h.Set("Content-Type", "text/html; charset=utf-8")
	} else {
		var err error
		body, err = json.Marshal(jsonBody{Status: a.Status, Error: a.Code, Message: a.Message, RetryAfterSeconds: retry})
		if err != nil {
			return err
		}
		body = append(body, '\n')
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Encoding")
	w.WriteHeader(a.Status)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(body)
	return err
}

// prefersHTML reports whether the Accept header values rank text/html (or
// application/xhtml+xml) above application/json. Without an Accept header,
// or when both rank the same, the answer is JSON: API clients outnumber
// browsers at a proxy, and browsers always name text/html.
func prefersHTML(accept []string) bool {
	var htmlQ, jsonQ float64 = -1, -1
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			media, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			q := qValue(params)
			switch strings.ToLower(strings.TrimSpace(media)) {
			case "text/html", "application/xhtml+xml":
				htmlQ = max(htmlQ, q)
			case "application/json", "application/problem+json":
				jsonQ = max(jsonQ, q)
			}
		}
	}
	return htmlQ > 0 && htmlQ > jsonQ
}

// qValue returns the q parameter of a media range's parameters, 1 when
// absent or malformed.
func qValue(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q >= 0 && q <= 1 {
				return q
			}
		}
	}
	return 1
}
