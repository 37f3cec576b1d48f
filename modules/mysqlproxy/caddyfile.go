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
//			user            <username> [<password>] {
//				password      <password>
//				password_hash <*HEX>
//			}
//			connect_timeout   <duration>
//			handshake_timeout <duration>
//			idle_timeout      <duration>
//			max_session_log   <n>
//			allow_local_infile
//			when_no_replica   primary|error
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
		case "user":
			u, err := unmarshalUser(d)
			if err != nil {
				return err
			}
			s.Users = append(s.Users, u)
		case "connect_timeout", "handshake_timeout", "idle_timeout":
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(val)
			if err != nil {
				return d.Errf("%s %q: %v", opt, val, err)
			}
			switch opt {
			case "connect_timeout":
				s.ConnectTimeout = caddy.Duration(dur)
			case "handshake_timeout":
				s.HandshakeTimeout = caddy.Duration(dur)
			default:
				s.IdleTimeout = caddy.Duration(dur)
			}
		case "max_session_log":
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return d.Errf("max_session_log %q: want a positive number", val)
			}
			s.routing().MaxSessionLog = n
		case "allow_local_infile":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.routing().AllowLocalInfile = true
		case "when_no_replica":
			if !d.AllArgs(&s.routing().WhenNoReplica) {
				return d.ArgErr()
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
		case "interval", "timeout", "max_replication_lag", "breaker_open_time":
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(val)
			if err != nil {
				return d.Errf("health %s %q: %v", opt, val, err)
			}
			switch opt {
			case "interval":
				h.Interval = caddy.Duration(dur)
			case "timeout":
				h.Timeout = caddy.Duration(dur)
			case "max_replication_lag":
				h.MaxReplicationLag = caddy.Duration(dur)
			default:
				h.BreakerOpenTime = caddy.Duration(dur)
			}
		case "breaker_failures":
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return d.Errf("health breaker_failures %q: want a positive number", val)
			}
			h.BreakerFailures = n
		default:
			return d.Errf("unrecognized health option %q", opt)
		}
	}
	return nil
}
