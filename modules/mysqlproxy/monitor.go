package mysqlproxy

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/zap"
)

// monitor checks the backend on the configured interval until the node is
// destroyed, keeping its last finding in n.health.
func (n *node) monitor() {
	defer close(n.stopped)
	var (
		db   *sql.DB
		dsn  string
		last string
	)
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	first := true
	for {
		s := n.settings.Load()
		n.learnGreeting(time.Duration(s.health.Timeout))
		if s.monitor {
			if cfg := n.monitorConfig(s.health); cfg.FormatDSN() != dsn {
				if db != nil {
					db.Close()
				}
				db, dsn = openMonitorDB(cfg), cfg.FormatDSN()
			}
			h := n.check(db, time.Duration(s.health.Timeout), n.pool.inUse())
			if !h.Reachable && db != nil {
				// The monitor's own connection may be what failed (killed,
				// timed out by the server): a fresh one decides.
				db.Close()
				db = openMonitorDB(n.monitorConfig(s.health))
				h = n.check(db, time.Duration(s.health.Timeout), n.pool.inUse())
			}
			n.health.Store(h)
			if h.Reachable {
				n.observeLatency(h.Latency)
			}
			if summary := h.summary(); summary != last {
				n.log().Info("backend state", zap.Bool("reachable", h.Reachable), zap.Bool("read_only", h.ReadOnly),
					zap.Bool("replicating", h.Replicating), zap.Bool("io_running", h.IORunning),
					zap.Bool("sql_running", h.SQLRunning), zap.Stringp("lag", lagString(h.Lag)), zap.String("error", h.Error))
				last = summary
			}
		}
		if first {
			close(n.checked)
			first = false
		}
		n.pool.reap(time.Now())
		n.fill()
		select {
		case <-n.stop:
			return
		case <-time.After(time.Duration(s.health.Interval)):
		}
	}
}

// summary is the part of a finding whose change is worth a log line.
func (h *healthState) summary() string {
	lag := "unknown"
	if h.Lag != nil {
		lag = "known"
	}
	return fmt.Sprintf("%v %v %v %v %v %s", h.Reachable, h.ReadOnly, h.Replicating, h.IORunning, h.SQLRunning, lag)
}

func lagString(lag *time.Duration) *string {
	if lag == nil {
		return nil
	}
	s := lag.String()
	return &s
}

// monitorConfig is the monitor's connection to the backend.
func (n *node) monitorConfig(h Health) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = h.User, h.Password
	cfg.Net, cfg.Addr = n.addr.network, n.addr.address
	cfg.Timeout = time.Duration(h.Timeout)
	cfg.ReadTimeout, cfg.WriteTimeout = time.Duration(h.Timeout), time.Duration(h.Timeout)
	return cfg
}

// openMonitorDB opens a one-connection pool for the monitor; nil if the
// settings cannot make one.
func openMonitorDB(cfg *mysql.Config) *sql.DB {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db
}

// sessionDefaultsQuery digests the global values of the session variables.
const sessionDefaultsQuery = "SELECT MD5(GROUP_CONCAT(VARIABLE_NAME, '=', IFNULL(GLOBAL_VALUE, '') ORDER BY VARIABLE_NAME)) " +
	"FROM information_schema.SYSTEM_VARIABLES WHERE VARIABLE_SCOPE = 'SESSION'"

// check runs one round of health queries; withDefaults adds the digest of
// the session variables' global values.
func (n *node) check(db *sql.DB, timeout time.Duration, withDefaults bool) *healthState {
	h := &healthState{Checked: time.Now()}
	if db == nil {
		h.Error = "invalid monitor settings"
		return h
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	began := time.Now()
	if err := db.PingContext(ctx); err != nil {
		h.Error = err.Error()
		return h
	}
	h.Latency = time.Since(began)
	h.Reachable = true
	var readOnly int
	var mode string
	if err := db.QueryRowContext(ctx, "SELECT @@global.read_only, @@global.gtid_current_pos, @@global.sql_mode").Scan(&readOnly, &h.GTID, &mode); err != nil {
		h.Error = err.Error()
		return h
	}
	h.ReadOnly, h.SQLMode = readOnly != 0, &mode
	if withDefaults {
		// MariaDB's table; elsewhere the digest stays empty, and pooled
		// connections keep the defaults they were reset under.
		_ = db.QueryRowContext(ctx, sessionDefaultsQuery).Scan(&h.SessionDefaults)
	}
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		h.Error = err.Error()
		return h
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || !rows.Next() {
		return h // not a replica
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		h.Error = err.Error()
		return h
	}
	h.Replicating = true
	for i, c := range cols {
		switch c {
		case "Slave_IO_Running":
			h.IORunning = vals[i].String == "Yes"
		case "Slave_SQL_Running":
			h.SQLRunning = vals[i].String == "Yes"
		case "Seconds_Behind_Master":
			if secs, err := strconv.Atoi(vals[i].String); err == nil && vals[i].Valid {
				lag := time.Duration(secs) * time.Second
				h.Lag = &lag
			}
		}
	}
	return h
}
