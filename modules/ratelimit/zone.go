package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/internal/clientip"
)

// Zone is one limit: requests are grouped by the value of Key, and each
// group may send Events requests per Window (with bursts of up to Burst)
// and have at most MaxInFlight requests in flight. A zone has a rate
// limit, a concurrency limit, or both.
type Zone struct {
	// Name identifies the zone in headers, logs, metrics and the admin
	// route. A zone's state is kept across config reloads while its name
	// and settings stay the same; handlers with zones of the same name and
	// settings share one state. Required.
	Name string `json:"name"`

	// Key is what requests are grouped by: any placeholder, or several,
	// e.g. {http.vars.client_ip} (the client IP from Caddy's trusted
	// proxies; `{client_ip}` in a Caddyfile), {http.auth.user.id} or
	// {http.request.header.X-Api-Key}. A request whose key is empty is not
	// limited by this zone (an anonymous request in a per-user zone), so
	// that such requests never share one bucket. A key that is an IP
	// address is grouped by IPv4Prefix and IPv6Prefix. Keys longer than
	// 128 bytes are replaced by their SHA-256. Default: the client IP.
	Key string `json:"key,omitempty"`

	// Events is the number of requests per Window that a key may send in
	// the long run. 0 means no rate limit.
	Events int `json:"events,omitempty"`

	// Window is the time Events are counted over. Default: 1s.
	Window caddy.Duration `json:"window,omitempty"`

	// Burst is the number of requests a key may send at once after being
	// quiet. Default: Events.
	Burst int `json:"burst,omitempty"`

	// MaxInFlight is the number of requests of one key that may be in
	// flight at once (counted in this Frontdesk instance); past it,
	// InFlightStatus. 0 means no concurrency limit.
	MaxInFlight int `json:"max_in_flight,omitempty"`

	// InFlightStatus is the status of a request refused by MaxInFlight:
	// 429 or 503. Default: 429.
	InFlightStatus int `json:"in_flight_status,omitempty"`

	// IPv4Prefix and IPv6Prefix group keys that are IP addresses by
	// network, so that a client rotating through the addresses of its
	// IPv6 /64 stays in one group. IPv4-mapped IPv6 addresses count as
	// IPv4. Default: 32 and 64.
	IPv4Prefix int `json:"ipv4_prefix,omitempty"`
	IPv6Prefix int `json:"ipv6_prefix,omitempty"`

	// MaxKeys bounds the keys held in memory; past it, the least recently
	// used keys are evicted (counted in the admin route and metrics).
	// About 150 bytes per key. Default: 100000.
	MaxKeys int `json:"max_keys,omitempty"`

	rate    *gcra
	state   *zoneState
	poolKey string
	quoted  string // the name as a structured-field string
	policy  string // the zone's RateLimit-Policy item
}

// maxKeyLen is the longest key kept as is; longer ones are hashed, so a
// client sending a huge header cannot inflate the limiter's memory.
const maxKeyLen = 128

// provision applies defaults, checks the settings, and takes the zone's
// state from the pool.
func (z *Zone) provision() error {
	if z.Key == "" {
		z.Key = "{http.vars.client_ip}"
	}
	if z.Window == 0 {
		z.Window = caddy.Duration(time.Second)
	}
	if z.Burst == 0 {
		z.Burst = z.Events
	}
	if z.InFlightStatus == 0 {
		z.InFlightStatus = http.StatusTooManyRequests
	}
	if z.IPv4Prefix == 0 {
		z.IPv4Prefix = 32
	}
	if z.IPv6Prefix == 0 {
		z.IPv6Prefix = 64
	}
	if z.MaxKeys == 0 {
		z.MaxKeys = 100_000
	}
	if err := z.validate(); err != nil {
		return err
	}
	if z.Events > 0 {
		g := newGCRA(z.Events, time.Duration(z.Window), z.Burst)
		z.rate = &g
	}
	z.quoted, z.policy = strconv.Quote(z.Name), z.policyItem()
	settings, err := json.Marshal(z)
	if err != nil {
		return err
	}
	z.poolKey = string(settings)
	v, _, err := zones.LoadOrNew(z.poolKey, func() (caddy.Destructor, error) {
		return newZoneState(z), nil
	})
	if err != nil {
		return err
	}
	z.state = v.(*zoneState)
	return nil
}

func (z *Zone) validate() error {
	switch {
	case z.Name == "":
		return fmt.Errorf("a zone needs a name")
	case z.Events < 0 || z.Burst < 0 || z.MaxInFlight < 0 || z.MaxKeys < 0:
		return fmt.Errorf("zone %s: events, burst, max_in_flight and max_keys must not be negative", z.Name)
	case z.Events == 0 && z.MaxInFlight == 0:
		return fmt.Errorf("zone %s: no limit: set events (a rate) or max_in_flight", z.Name)
	case z.Events > 0 && z.Burst < 1:
		return fmt.Errorf("zone %s: burst must be at least 1", z.Name)
	case z.Window <= 0 || (z.Events > 0 && time.Duration(z.Window)/time.Duration(z.Events) <= 0):
		return fmt.Errorf("zone %s: window %s is too short for %d events", z.Name, time.Duration(z.Window), z.Events)
	case z.InFlightStatus != http.StatusTooManyRequests && z.InFlightStatus != http.StatusServiceUnavailable:
		return fmt.Errorf("zone %s: in_flight_status %d: want 429 or 503", z.Name, z.InFlightStatus)
	case z.IPv4Prefix < 1 || z.IPv4Prefix > 32 || z.IPv6Prefix < 1 || z.IPv6Prefix > 128:
		return fmt.Errorf("zone %s: ipv4_prefix must be 1-32 and ipv6_prefix 1-128", z.Name)
	}
	return nil
}

// release lets go of the zone's state.
func (z *Zone) release() {
	if z.poolKey != "" {
		_, _ = zones.Delete(z.poolKey)
		z.poolKey = ""
	}
}

// key resolves the zone's key for a request; ok is false when it is
// empty.
func (z *Zone) key(repl *caddy.Replacer) (key string, ok bool) {
	key = repl.ReplaceKnown(z.Key, "")
	if key == "" {
		return "", false
	}
	if a, err := netip.ParseAddr(key); err == nil {
		a = clientip.Normalize(a)
		bits := z.IPv6Prefix
		if a.Is4() {
			bits = z.IPv4Prefix
		}
		p, _ := a.Prefix(bits)
		return p.String(), true
	}
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		return "sha256:" + hex.EncodeToString(sum[:16]), true
	}
	return key, true
}
