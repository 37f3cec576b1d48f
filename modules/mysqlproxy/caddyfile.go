package mysqlproxy

import (
	"encoding/json"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("mysql", parseGlobalOption)
}

// parseGlobalOption sets up the mysql app from the `mysql` global option.
// Syntax:
//
//	mysql {
//		server <name> {
//			listen          <address...>
//			primary         <host:port | unix//path>
//			replicas        <host:port | unix//path...>
//			servers         <host:port | unix//path...>   (instead of primary and replicas: roles from read_only)
//			tls             <cert_file> <key_file> [require]
//			user            <username> [<password>] {
//				password      <password>
//				password_hash <*HEX>
//			}
//			connect_timeout   <duration>
//			handshake_timeout <duration>
//			idle_timeout      <duration>
//			write_timeout     <duration>
//			reload_grace      <duration>
//			max_connections     <n>
//			max_unauthenticated <n>
//			login_failure_limit <max failures> [<window>]
//			max_session_log   <n>
//			max_session_log_bytes <n>
//			max_prepared_bytes    <n>
//			allow_local_infile
//			when_no_replica   primary|error
//			read_your_writes  session|global|off [<max wait>]
//			pool {
//				max_connections <n>
//				max_idle        <n>
//				min_idle        <n>
//				idle_timeout    <duration>
//				max_lifetime    <duration>
//				wait_timeout    <duration>
//				max_waiting     <n>
//			}
//			health {
//				user                <username> [<password>]
//				interval            <duration>
//				timeout             <duration>
//				max_replication_lag <duration>
//				breaker_failures    <n>
//				breaker_open_time   <duration>
//			}
//		}
//	}
//
// Several `mysql` blocks, and several servers, may be given; servers with
// the same name are an error. Passwords may be placeholders, such as
// {env.DB_PASSWORD}.
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	app := &App{Servers: map[string]*Server{}}
	if existing != nil {
		if err := json.Unmarshal(existing.(httpcaddyfile.App).Value, app); err != nil {
			return nil, err
		}
	}
	d.Next() // the option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "server" {
			return nil, d.Errf("unrecognized mysql option %q (want server)", d.Val())
		}
		if !d.NextArg() {
			return nil, d.Errf("server needs a name")
		}
		name := d.Val()
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		if _, dup := app.Servers[name]; dup {
			return nil, d.Errf("mysql server %q is defined twice", name)
		}
		srv := new(Server)
		if err := srv.UnmarshalCaddyfile(d); err != nil {
			return nil, err
		}
		app.Servers[name] = srv
	}
	return httpcaddyfile.App{Name: "mysql", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile reads the block of a `server` in the `mysql` global
// option; see parseGlobalOption for the syntax.
func (s *Server) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "listen":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			s.Listen = append(s.Listen, args...)
		case "primary":
			if !d.AllArgs(&s.Cluster.Primary) {
				return d.ArgErr()
			}
		case "replicas":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			s.Cluster.Replicas = append(s.Cluster.Replicas, args...)
		case "servers":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			s.Cluster.Servers = append(s.Cluster.Servers, args...)
		case "tls":
			args := d.RemainingArgs()
			if len(args) < 2 || len(args) > 3 || (len(args) == 3 && args[2] != "require") {
				return d.Errf("tls takes <cert_file> <key_file> [require]")
			}
			s.TLS = &TLS{CertificateFile: args[0], KeyFile: args[1], Require: len(args) == 3}
		case "user":
			u, err := unmarshalUser(d)
			if err != nil {
				return err
			}
			s.Users = append(s.Users, u)
		case "connect_timeout":
			if err := durationArg(d, opt, &s.ConnectTimeout); err != nil {
				return err
			}
		case "handshake_timeout":
			if err := durationArg(d, opt, &s.HandshakeTimeout); err != nil {
				return err
			}
		case "idle_timeout":
			if err := durationArg(d, opt, &s.IdleTimeout); err != nil {
				return err
			}
		case "write_timeout":
			if err := durationArg(d, opt, &s.WriteTimeout); err != nil {
				return err
			}
		case "reload_grace":
			if err := durationArg(d, opt, &s.ReloadGrace); err != nil {
				return err
			}
		case "max_connections":
			if err := positiveArg(d, opt, &s.MaxConnections); err != nil {
				return err
			}
		case "max_unauthenticated":
			if err := positiveArg(d, opt, &s.MaxUnauthenticated); err != nil {
				return err
			}
		case "login_failure_limit":
			args := d.RemainingArgs()
			if len(args) == 0 || len(args) > 2 {
				return d.Errf("login_failure_limit takes <max failures> [<window>]")
			}
			lim := new(LoginFailureLimit)
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return d.Errf("login_failure_limit max failures %q: want a positive number", args[0])
			}
			lim.MaxFailures = n
			if len(args) == 2 {
				dur, err := caddy.ParseDuration(args[1])
				if err != nil || dur <= 0 {
					return d.Errf("login_failure_limit window %q: want a positive duration", args[1])
				}
				lim.Window = caddy.Duration(dur)
			}
			s.LoginFailureLimit = lim
		case "max_session_log":
			if err := positiveArg(d, opt, &s.routing().MaxSessionLog); err != nil {
				return err
			}
		case "max_session_log_bytes":
			if err := positiveArg(d, opt, &s.routing().MaxSessionLogBytes); err != nil {
				return err
			}
		case "max_prepared_bytes":
			if err := positiveArg(d, opt, &s.routing().MaxPreparedBytes); err != nil {
				return err
			}
		case "allow_local_infile":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.routing().AllowLocalInfile = true
		case "when_no_replica":
			if !d.AllArgs(&s.routing().WhenNoReplica) {
				return d.ArgErr()
			}
		case "read_your_writes":
			r := s.routing()
			args := d.RemainingArgs()
			if len(args) == 0 || len(args) > 2 {
				return d.ArgErr()
			}
			r.ReadYourWrites = args[0]
			if len(args) == 2 {
				dur, err := caddy.ParseDuration(args[1])
				if err != nil {
					return d.Errf("read_your_writes wait %q: %v", args[1], err)
				}
				r.ReadYourWritesWait = caddy.Duration(dur)
			}
		case "pool":
			if s.Pool == nil {
				s.Pool = new(Pool)
			}
			if err := s.Pool.unmarshalCaddyfile(d); err != nil {
				return err
			}
		case "health":
			if s.Health == nil {
				s.Health = new(Health)
			}
			if err := s.Health.unmarshalCaddyfile(d); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized mysql server option %q", opt)
		}
	}
	return nil
}

// unmarshalUser reads `user <name> [<password>] { password ... password_hash ... }`.
func unmarshalUser(d *caddyfile.Dispenser) (User, error) {
	var u User
	if !d.NextArg() {
		return u, d.Errf("user needs a username")
	}
	u.Username = d.Val()
	if d.NextArg() {
		u.Password = d.Val()
	}
	if d.NextArg() {
		return u, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "password":
			if !d.AllArgs(&u.Password) {
				return u, d.ArgErr()
			}
		case "password_hash":
			if !d.AllArgs(&u.PasswordHash) {
				return u, d.ArgErr()
			}
		default:
			return u, d.Errf("unrecognized user option %q", d.Val())
		}
	}
	return u, nil
}

var _ caddyfile.Unmarshaler = (*Server)(nil)

// routing returns the server's routing options, creating them when the
// Caddyfile sets the first one.
func (s *Server) routing() *Routing {
	if s.Routing == nil {
		s.Routing = new(Routing)
	}
	return s.Routing
}

// unmarshalCaddyfile reads a server's `health` block.
func (h *Health) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "user":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.ArgErr()
			}
			h.User = args[0]
			if len(args) == 2 {
				h.Password = args[1]
			}
		case "interval":
			if err := durationArg(d, "health "+opt, &h.Interval); err != nil {
				return err
			}
		case "timeout":
			if err := durationArg(d, "health "+opt, &h.Timeout); err != nil {
				return err
			}
		case "max_replication_lag":
			if err := durationArg(d, "health "+opt, &h.MaxReplicationLag); err != nil {
				return err
			}
		case "breaker_open_time":
			if err := durationArg(d, "health "+opt, &h.BreakerOpenTime); err != nil {
				return err
			}
		case "breaker_failures":
			if err := positiveArg(d, "health "+opt, &h.BreakerFailures); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized health option %q", opt)
		}
	}
	return nil
}

// unmarshalCaddyfile reads a server's `pool` block (or a bare `pool`).
func (p *Pool) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "max_connections":
			err = positiveArg(d, "pool "+opt, &p.MaxConnections)
		case "max_idle":
			err = positiveArg(d, "pool "+opt, &p.MaxIdle)
		case "min_idle":
			err = positiveArg(d, "pool "+opt, &p.MinIdle)
		case "max_waiting":
			err = positiveArg(d, "pool "+opt, &p.MaxWaiting)
		case "idle_timeout":
			err = durationArg(d, "pool "+opt, &p.IdleTimeout)
		case "max_lifetime":
			err = durationArg(d, "pool "+opt, &p.MaxLifetime)
		case "wait_timeout":
			err = durationArg(d, "pool "+opt, &p.WaitTimeout)
		default:
			err = d.Errf("unrecognized pool option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// durationArg reads the one argument of option opt as a duration.
func durationArg(d *caddyfile.Dispenser, opt string, dst *caddy.Duration) error {
	var val string
	if !d.AllArgs(&val) {
		return d.ArgErr()
	}
	dur, err := caddy.ParseDuration(val)
	if err != nil {
		return d.Errf("%s %q: %v", opt, val, err)
	}
	*dst = caddy.Duration(dur)
	return nil
}

// positiveArg reads the one argument of option opt as a positive number.
func positiveArg(d *caddyfile.Dispenser, opt string, dst *int) error {
	var val string
	if !d.AllArgs(&val) {
		return d.ArgErr()
	}
	n, err := strconv.Atoi(val)
	if err != nil || n < 1 {
		return d.Errf("%s %q: want a positive number", opt, val)
	}
	*dst = n
	return nil
}
