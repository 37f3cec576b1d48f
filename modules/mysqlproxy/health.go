package mysqlproxy

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
)

// Health configures how a server watches its backends and when it stops
// sending them work.
type Health struct {
	// User is the account the monitor logs in with to check each backend:
	// reachability and latency, read_only, replication threads and lag, and
	// the GTID position. It needs the SLAVE MONITOR privilege. Default: the
	// first user of the server that has a password in the config. Without
	// any, the monitor is off and only breakers judge the backends.
	User string `json:"user,omitempty"`

	// Password of the monitor's account; placeholders such as {env.X} are
	// replaced when the config loads.
	Password string `json:"password,omitempty"`

	// Interval between two checks of a backend. Default: 1s.
	Interval caddy.Duration `json:"interval,omitempty"`

	// Timeout bounds one check, connection included. A check that fails is
	// tried once more on a fresh connection (the monitor's own connection
	// may be what failed) before the backend counts as unreachable.
	// Default: 2s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// MaxReplicationLag is how far behind the primary a replica may be
	// (Seconds_Behind_Master) and still get reads. A replica whose lag is
	// unknown (replication stopped, NULL lag) gets none. Default: 10s.
	MaxReplicationLag caddy.Duration `json:"max_replication_lag,omitempty"`

	// BreakerFailures is the number of consecutive failures to connect to or
	// log in to a backend that opens its circuit breaker: no session tries
	// it again until BreakerOpenTime has passed, then one probe decides.
	// Default: 3.
	BreakerFailures int `json:"breaker_failures,omitempty"`

	// BreakerOpenTime is how long an open breaker keeps a backend out.
	// Default: 5s.
	BreakerOpenTime caddy.Duration `json:"breaker_open_time,omitempty"`
}

// Defaults of the health settings.
const (
	defaultHealthInterval    = caddy.Duration(1e9)
	defaultHealthTimeout     = caddy.Duration(2e9)
	defaultMaxReplicationLag = caddy.Duration(10e9)
	defaultBreakerFailures   = 3
	defaultBreakerOpenTime   = caddy.Duration(5e9)
)

// provision fills in defaults and the monitor's credentials.
func (h *Health) provision(users []User) error {
	if h.Interval == 0 {
		h.Interval = defaultHealthInterval
	}
	if h.Timeout == 0 {
		h.Timeout = defaultHealthTimeout
	}
	if h.MaxReplicationLag == 0 {
		h.MaxReplicationLag = defaultMaxReplicationLag
	}
	if h.BreakerFailures == 0 {
		h.BreakerFailures = defaultBreakerFailures
	}
	if h.BreakerOpenTime == 0 {
		h.BreakerOpenTime = defaultBreakerOpenTime
	}
	if h.User == "" {
		for _, u := range users {
			if u.Password != "" {
				h.User, h.Password = u.Username, u.Password
				break
			}
		}
	}
	if h.Password != "" {
		pw, err := caddy.NewReplacer().ReplaceOrErr(h.Password, true, true)
		if err != nil {
			return fmt.Errorf("health.password: %v", err)
		}
		h.Password = pw
	}
	switch {
	case h.Interval < 0 || h.Timeout < 0 || h.MaxReplicationLag < 0 || h.BreakerOpenTime < 0:
		return fmt.Errorf("health: durations must not be negative")
	case h.BreakerFailures < 0:
		return fmt.Errorf("health.breaker_failures must not be negative")
	}
	return nil
}
