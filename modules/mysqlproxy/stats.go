package mysqlproxy

import (
	"sync"
	"sync/atomic"
)

// serverStats are a server's counters. They are kept per server name for
// the life of the process, so they carry on across config reloads.
type serverStats struct {
	sessionsOpen  atomic.Int64
	sessionsTotal atomic.Int64
	loginFailures atomic.Int64
	toPrimary     atomic.Int64
	toReplica     atomic.Int64
	errors        atomic.Int64
}

// ServerStats is a snapshot of a server's counters, as the admin API shows.
type ServerStats struct {
	// SessionsOpen is the number of client sessions now open.
	SessionsOpen int64 `json:"sessions_open"`
	// SessionsTotal counts client sessions since the process started.
	SessionsTotal int64 `json:"sessions_total"`
	// LoginFailures counts refused logins.
	LoginFailures int64 `json:"login_failures"`
	// StatementsPrimary counts commands run on the primary.
	StatementsPrimary int64 `json:"statements_primary"`
	// StatementsReplica counts commands run on a replica.
	StatementsReplica int64 `json:"statements_replica"`
	// Errors counts commands answered with an error, by a backend or the proxy.
	Errors int64 `json:"errors"`
}

var (
	statsMu     sync.Mutex
	statsByName = map[string]*serverStats{}
)

// statsFor returns the counters of the server with the given name.
func statsFor(name string) *serverStats {
	statsMu.Lock()
	defer statsMu.Unlock()
	st := statsByName[name]
	if st == nil {
		st = new(serverStats)
		statsByName[name] = st
	}
	return st
}

func (st *serverStats) snapshot() ServerStats {
	return ServerStats{
		SessionsOpen:      st.sessionsOpen.Load(),
		SessionsTotal:     st.sessionsTotal.Load(),
		LoginFailures:     st.loginFailures.Load(),
		StatementsPrimary: st.toPrimary.Load(),
		StatementsReplica: st.toReplica.Load(),
		Errors:            st.errors.Load(),
	}
}

// allStats returns a snapshot of every server's counters, by name.
func allStats() map[string]ServerStats {
	statsMu.Lock()
	defer statsMu.Unlock()
	out := make(map[string]ServerStats, len(statsByName))
	for name, st := range statsByName {
		out[name] = st.snapshot()
	}
	return out
}
