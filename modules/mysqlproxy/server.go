package mysqlproxy

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// Server is one MySQL proxy: the addresses it listens on, the cluster it
// fronts, the users who may log in, and how it routes.
type Server struct {
	// Listen is the list of addresses to accept client connections on, in
	// Caddy's [network address](/docs/conventions#network-addresses) form:
	// "127.0.0.1:3307", "tcp/:3307" or "unix//run/frontdesk/mysql.sock".
	Listen []string `json:"listen,omitempty"`

	// Cluster is the primary and the replicas behind this server.
	Cluster Cluster `json:"cluster"`

	// Users are the accounts that may log in through this server. The proxy
	// logs in to the backends as the same user, so each must exist, with the
	// same password, on every backend.
	Users []User `json:"users,omitempty"`

	// ConnectTimeout bounds opening a connection to a backend, login
	// included. Default: 5s.
	ConnectTimeout caddy.Duration `json:"connect_timeout,omitempty"`

	// HandshakeTimeout bounds a client's login to the proxy. Default: 10s.
	HandshakeTimeout caddy.Duration `json:"handshake_timeout,omitempty"`

	// IdleTimeout closes a client session that sends nothing for this long,
	// as the server's wait_timeout would. (To keep the per-command cost low,
	// the clock is re-armed only when half of it is used, so a silent session
	// ends after between half of this and all of it.) Default: 8h.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`

	// WriteTimeout ends a session whose client accepts no bytes of a reply
	// for this long, as the server's net_write_timeout would: a client that
	// stopped reading a result otherwise holds its backend connection, and
	// the statement on the server, for as long as TCP keeps the connection
	// alive. It bounds a stall, not a reply: a slow reader that keeps taking
	// data is never cut. Default: 60s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`

	// ReloadGrace bounds how long the sessions of a config replaced by a
	// reload may go on with it: after this, each ends at its next idle
	// point (between commands). Sessions that end sooner, because their
	// client leaves, are never cut. Default: 0, no bound.
	ReloadGrace caddy.Duration `json:"reload_grace,omitempty"`

	// MaxConnections bounds the client connections the server holds open,
	// logged in or not, counting those of earlier configs that are still
	// open. A connection past it is told "Too many connections" (error
	// 1040) instead of a greeting, and closed. Default: 2048.
	MaxConnections int `json:"max_connections,omitempty"`

	// MaxUnauthenticated bounds the client connections that have not yet
	// logged in, so that clients that connect and never finish a login
	// cannot crowd out the others: past it, a new connection is told "Too
	// many connections" (error 1040). Before login a client may send only
	// handshake-sized packets (16 KiB), and no backend is contacted for it.
	// Default: 256.
	MaxUnauthenticated int `json:"max_unauthenticated,omitempty"`

	// LoginFailureLimit, when set, refuses for a while the connections of a
	// client address that failed to log in too often. Default: off.
	LoginFailureLimit *LoginFailureLimit `json:"login_failure_limit,omitempty"`

	// TLS, when set, offers clients TLS with this certificate.
	TLS *TLS `json:"tls,omitempty"`

	// Routing tunes where statements go.
	Routing *Routing `json:"routing,omitempty"`

	// Health configures the backend monitor and circuit breakers.
	Health *Health `json:"health,omitempty"`

	// Pool, when set, keeps backend connections open between client
	// sessions (see Pool). Default: off.
	Pool *Pool `json:"pool,omitempty"`

	name       string
	listenKeys []string
	addrs      []caddy.NetworkAddress
	// nodes are the backends, held for this config: with a fixed primary,
	// it comes first.
	nodes []*node
	// nodeSettings are what this config's nodes take when it starts.
	nodeSettings *nodeSettings
	// discover is set when the monitor finds the roles (Cluster.Servers).
	discover  bool
	users     map[string]*user
	stats     *serverStats
	logger    *zap.Logger
	listeners []*sharedListener
	sessions  *sessionSet
}

// Cluster names the backends of a server: either a primary and its
// replicas, or just the servers, whose roles the monitor finds.
type Cluster struct {
	// Primary takes the writes and anything that is not provably a
	// side-effect-free read: "host:port" or "unix//path/to/mysqld.sock".
	Primary string `json:"primary,omitempty"`

	// Replicas serve side-effect-free reads; each "host:port" or
	// "unix//path/to/mysqld.sock". With none, everything goes to the primary.
	Replicas []string `json:"replicas,omitempty"`

	// Servers, instead of Primary and Replicas, lists the backends and lets
	// the monitor find their roles: the first reachable server with
	// read_only off is the primary, the others are replicas. After a
	// switchover (the old primary set read_only, a replica promoted and set
	// writable) writes follow the new primary with no config change. Needs
	// the monitor.
	Servers []string `json:"servers,omitempty"`
}

// Routing tunes where statements go.
type Routing struct {
	// MaxSessionLog bounds the number of entries of the session-command log
	// that is replayed on a replica connection before its next use (USE,
	// SET NAMES, SET SESSION, user variables, text PREPARE). The log is
	// compacted: a SET of one variable to a constant replaces the last such
	// SET of it, and the last USE wins. A session whose log outgrows the
	// bound is pinned to the primary (counted as session_log_full, and
	// logged). Default: 256.
	MaxSessionLog int `json:"max_session_log,omitempty"`

	// MaxSessionLogBytes bounds the session-command log's size in bytes, as
	// MaxSessionLog bounds its entries. Default: 1 MiB.
	MaxSessionLogBytes int `json:"max_session_log_bytes,omitempty"`

	// MaxPreparedBytes bounds the total text of a session's open prepared
	// statements, which the proxy keeps to prepare them again on another
	// connection. A session past it is pinned to the primary (counted as
	// session_log_full, and logged). Default: 4 MiB.
	MaxPreparedBytes int `json:"max_prepared_bytes,omitempty"`

	// AllowLocalInfile lets clients run LOAD DATA LOCAL INFILE, which makes
	// the server ask the client for a file. Default: off, and such
	// statements get a clear error.
	AllowLocalInfile bool `json:"allow_local_infile,omitempty"`

	// ReadYourWrites says which writes a read must see. "session": a
	// session's reads see its own writes: the primary connection reports
	// the GTID of the session's last write (MariaDB's last_gtid), and a later
	// read runs on a replica only once the replica has applied it, waiting
	// at most ReadYourWritesWait, else on the primary. "global": a read sees
	// every write that any session of the proxy saw committed before the
	// read began (for applications that write on one connection and read
	// on another). "off": reads see replicas as they are. Default: session.
	ReadYourWrites string `json:"read_your_writes,omitempty"`

	// ReadYourWritesWait bounds how long a read waits for a replica to apply
	// the writes it must see before it goes to the primary instead.
	// Default: 100ms.
	ReadYourWritesWait caddy.Duration `json:"read_your_writes_wait,omitempty"`

	// WhenNoReplica says what a read does when no replica is usable:
	// "primary" runs it on the primary, "error" answers with an error.
	// Default: primary.
	WhenNoReplica string `json:"when_no_replica,omitempty"`
}

// Defaults of the server settings.
const (
	defaultConnectTimeout     = 5 * time.Second
	defaultHandshakeTimeout   = 10 * time.Second
	defaultIdleTimeout        = 8 * time.Hour
	defaultWriteTimeout       = time.Minute
	defaultMaxSessionLog      = 256
	defaultMaxSessionLogBytes = 1 << 20
	defaultMaxPreparedBytes   = 4 << 20
	defaultReadYourWritesWait = 100 * time.Millisecond
)

// backendAddr is a parsed backend address.
type backendAddr struct {
	network, address string
}

func (b backendAddr) String() string {
	if b.network == "unix" {
		return "unix/" + b.address
	}
	return b.address
}

func (s *Server) provision(ctx caddy.Context, name string) error {
	s.name = name
	s.logger = ctx.Logger().With(zap.String("server", name))
	if s.ConnectTimeout == 0 {
		s.ConnectTimeout = caddy.Duration(defaultConnectTimeout)
	}
	if s.HandshakeTimeout == 0 {
		s.HandshakeTimeout = caddy.Duration(defaultHandshakeTimeout)
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = caddy.Duration(defaultIdleTimeout)
	}
	if s.WriteTimeout == 0 {
		s.WriteTimeout = caddy.Duration(defaultWriteTimeout)
	}
	if err := s.provisionLimits(); err != nil {
		return err
	}
	if s.TLS != nil {
		if err := s.TLS.provision(); err != nil {
			return err
		}
	}
	if s.Routing == nil {
		s.Routing = new(Routing)
	}
	if s.Routing.ReadYourWritesWait == 0 {
		s.Routing.ReadYourWritesWait = caddy.Duration(defaultReadYourWritesWait)
	}
	if s.Routing.MaxSessionLog == 0 {
		s.Routing.MaxSessionLog = defaultMaxSessionLog
	}
	if s.Routing.MaxSessionLogBytes == 0 {
		s.Routing.MaxSessionLogBytes = defaultMaxSessionLogBytes
	}
	if s.Routing.MaxPreparedBytes == 0 {
		s.Routing.MaxPreparedBytes = defaultMaxPreparedBytes
	}
	if s.Routing.ReadYourWrites == "" {
		s.Routing.ReadYourWrites = "session"
	}
	for i, l := range s.Listen {
		na, err := caddy.ParseNetworkAddress(l)
		if err != nil {
			return fmt.Errorf("listen[%d] %q: %v", i, l, err)
		}
		if na.PortRangeSize() > 1 {
			return fmt.Errorf("listen[%d] %q: port ranges are not supported", i, l)
		}
		s.addrs = append(s.addrs, na)
		s.listenKeys = append(s.listenKeys, na.String())
	}
	var addrs []backendAddr
	switch {
	case len(s.Cluster.Servers) > 0 && (s.Cluster.Primary != "" || len(s.Cluster.Replicas) > 0):
		return fmt.Errorf("cluster: give servers, or primary and replicas, not both")
	case len(s.Cluster.Servers) > 0:
		s.discover = true
		for i, a := range s.Cluster.Servers {
			b, err := parseBackend(a)
			if err != nil {
				return fmt.Errorf("cluster.servers[%d]: %v", i, err)
			}
			addrs = append(addrs, b)
		}
	case s.Cluster.Primary == "":
		return fmt.Errorf("cluster.primary is required")
	default:
		b, err := parseBackend(s.Cluster.Primary)
		if err != nil {
			return fmt.Errorf("cluster.primary: %v", err)
		}
		addrs = append(addrs, b)
		for i, r := range s.Cluster.Replicas {
			b, err := parseBackend(r)
			if err != nil {
				return fmt.Errorf("cluster.replicas[%d]: %v", i, err)
			}
			addrs = append(addrs, b)
		}
	}
	var err error
	if s.users, err = provisionUsers(s.Users); err != nil {
		return err
	}
	if s.Health == nil {
		s.Health = new(Health)
	}
	if err := s.Health.provision(s.Users); err != nil {
		return err
	}
	if s.Pool != nil {
		if err := s.Pool.provision(); err != nil {
			return err
		}
	}
	settings := &nodeSettings{health: *s.Health, monitor: s.Health.User != ""}
	s.nodeSettings = settings
	if !settings.monitor {
		s.logger.Warn("backend monitor off: no user with a password to check the backends with; set health.user")
	}
	if s.discover && !settings.monitor {
		return fmt.Errorf("cluster.servers needs the monitor to find the primary: set health.user")
	}
	for _, addr := range addrs {
		n, err := acquireNode(addr, settings, s.logger)
		if err != nil {
			return err
		}
		s.nodes = append(s.nodes, n)
	}
	// Route on facts from the first statement: wait (boundedly) for the
	// monitor's first look at backends that are new to the process.
	wait, cancel := context.WithTimeout(context.Background(), time.Duration(s.Health.Timeout)+time.Second)
	defer cancel()
	for _, n := range s.nodes {
		select {
		case <-n.checked:
		case <-wait.Done():
		}
	}
	s.stats = statsFor(name)
	s.sessions = newSessionSet()
	return nil
}

func parseBackend(addr string) (backendAddr, error) {
	if path, ok := strings.CutPrefix(addr, "unix/"); ok {
		if path == "" {
			return backendAddr{}, fmt.Errorf("%q: empty socket path", addr)
		}
		return backendAddr{network: "unix", address: path}, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return backendAddr{}, fmt.Errorf("%q is not host:port or unix//path", addr)
	}
	return backendAddr{network: "tcp", address: addr}, nil
}

func (s *Server) validate() error {
	switch {
	case len(s.Listen) == 0:
		return fmt.Errorf("listen: at least one address is required")
	case len(s.Users) == 0:
		return fmt.Errorf("users: at least one user is required")
	case s.ConnectTimeout < 0:
		return fmt.Errorf("connect_timeout must not be negative")
	case s.HandshakeTimeout < 0:
		return fmt.Errorf("handshake_timeout must not be negative")
	case s.IdleTimeout < 0:
		return fmt.Errorf("idle_timeout must not be negative")
	case s.WriteTimeout < 0:
		return fmt.Errorf("write_timeout must not be negative")
	case s.ReloadGrace < 0:
		return fmt.Errorf("reload_grace must not be negative")
	case s.Routing.MaxSessionLog < 0:
		return fmt.Errorf("routing.max_session_log must not be negative")
	case s.Routing.MaxSessionLogBytes < 0 || s.Routing.MaxPreparedBytes < 0:
		return fmt.Errorf("routing.max_session_log_bytes and routing.max_prepared_bytes must not be negative")
	case s.Routing.ReadYourWrites != "" && s.Routing.ReadYourWrites != "off" && s.Routing.ReadYourWrites != "session" && s.Routing.ReadYourWrites != "global":
		return fmt.Errorf("routing.read_your_writes %q: want session, global or off", s.Routing.ReadYourWrites)
	case s.Routing.ReadYourWritesWait < 0:
		return fmt.Errorf("routing.read_your_writes_wait must not be negative")
	case s.Routing.WhenNoReplica != "" && s.Routing.WhenNoReplica != "primary" && s.Routing.WhenNoReplica != "error":
		return fmt.Errorf("routing.when_no_replica %q: want primary or error", s.Routing.WhenNoReplica)
	}
	return nil
}

// start commits the config's settings to its backends and takes over (or
// opens) the server's listeners.
func (s *Server) start() error {
	for _, n := range s.nodes {
		n.commit(s, s.nodeSettings, s.logger)
	}
	for i, na := range s.addrs {
		l, err := acquireListener(s.listenKeys[i], na)
		if err != nil {
			s.stop()
			return fmt.Errorf("listen %s: %v", s.Listen[i], err)
		}
		s.listeners = append(s.listeners, l)
		l.serveWith(s)
		s.logger.Info("listening", zap.String("address", s.listenKeys[i]))
	}
	setRunning(s)
	return nil
}

// stop hands the listeners back (closing them unless the next config serves
// them too). On a reload the sessions of this config go on until their
// clients leave, or for ReloadGrace; when the process exits, they end at
// their next idle point. It never waits for them.
func (s *Server) stop() {
	for _, l := range s.listeners {
		l.release(s)
	}
	s.listeners = nil
	for _, n := range s.nodes {
		n.withdraw(s)
	}
	clearRunning(s)
	switch {
	case caddy.Exiting():
		s.sessions.stopAll()
	case s.ReloadGrace > 0:
		time.AfterFunc(time.Duration(s.ReloadGrace), s.sessions.stopAll)
	}
}

// cleanup releases the nodes this config held, once its last session has
// ended: sessions kept from a replaced config go on seeing their backends'
// current health (the monitor of a node the new config dropped runs on for
// them).
func (s *Server) cleanup() {
	release := func() {
		for _, n := range s.nodes {
			releaseNode(n)
		}
	}
	if s.sessions == nil { // provisioning failed before the sessions were made
		release()
		return
	}
	s.sessions.whenEmpty(release)
}

// primary returns the backend that takes writes now: the configured one, or
// with discovered roles the first reachable server with read_only off (nil
// if there is none).
func (s *Server) primary() *node {
	if !s.discover {
		return s.nodes[0]
	}
	for _, n := range s.nodes {
		if h := n.health.Load(); h != nil && h.Reachable && !h.ReadOnly {
			return n
		}
	}
	return nil
}

// replicas returns the backends that may serve reads now: all but the
// primary.
func (s *Server) replicas() []*node {
	if !s.discover {
		return s.nodes[1:]
	}
	p := s.primary()
	out := make([]*node, 0, len(s.nodes))
	for _, n := range s.nodes {
		if n != p {
			out = append(out, n)
		}
	}
	return out
}

// replicasByCost returns the usable replicas, best first. The best are
// the cheapest (see node.cost) and those within a factor of two of them:
// smaller differences are noise, not a signal, and among those the
// session's own offset rotates the order, so that load spreads.
func (s *Server) replicasByCost(maxLag time.Duration, offset int) []*node {
	type candidate struct {
		n    *node
		cost float64
		turn int
	}
	var cands []candidate
	replicas, primary := s.replicas(), s.primary()
	for i := range replicas {
		n := replicas[(offset+i)%len(replicas)]
		if n.usableReplica(maxLag, primary) {
			cands = append(cands, candidate{n, n.cost(), i})
		}
	}
	if len(cands) == 0 {
		return nil
	}
	best := slices.MinFunc(cands, func(a, b candidate) int { return cmp.Compare(a.cost, b.cost) }).cost
	slices.SortFunc(cands, func(a, b candidate) int {
		aEven, bEven := a.cost <= 2*best, b.cost <= 2*best
		switch {
		case aEven && bEven:
			return cmp.Compare(a.turn, b.turn)
		case aEven:
			return -1
		case bEven:
			return 1
		}
		return cmp.Compare(a.cost, b.cost)
	})
	out := make([]*node, len(cands))
	for i, c := range cands {
		out[i] = c.n
	}
	return out
}
