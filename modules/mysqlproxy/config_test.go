package mysqlproxy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// provisionJSON provisions and validates an app from its JSON config.
func provisionJSON(t *testing.T, cfg string) (*App, error) {
	t.Helper()
	app := new(App)
	if err := json.Unmarshal([]byte(cfg), app); err != nil {
		t.Fatalf("config JSON: %v", err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	t.Cleanup(func() { app.Cleanup() })
	if err := app.Provision(ctx); err != nil {
		return nil, err
	}
	return app, app.Validate()
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ name, cfg, want string }{
		{"no servers", `{}`, "no servers configured"},
		{"no primary", `{"servers":{"a":{"listen":[":3307"],"users":[{"username":"u","password":"p"}]}}}`,
			`server "a": cluster.primary is required`},
		{"servers and primary", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1","servers":["127.0.0.1:2"]},"users":[{"username":"u","password":"p"}]}}}`,
			`cluster: give servers, or primary and replicas, not both`},
		{"servers without monitor", `{"servers":{"a":{"listen":[":3307"],"cluster":{"servers":["127.0.0.1:1","127.0.0.1:2"]},"users":[{"username":"u","password_hash":"*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"}]}}}`,
			`cluster.servers needs the monitor`},
		{"bad primary", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"nohostport"},"users":[{"username":"u","password":"p"}]}}}`,
			`cluster.primary: "nohostport" is not host:port or unix//path`},
		{"bad replica", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1","replicas":["127.0.0.1:2","unix/"]},"users":[{"username":"u","password":"p"}]}}}`,
			`cluster.replicas[1]: "unix/": empty socket path`},
		{"bad listen", `{"servers":{"a":{"listen":["tcp/h:x"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"p"}]}}}`,
			`listen[0] "tcp/h:x"`},
		{"no listen", `{"servers":{"a":{"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"p"}]}}}`,
			"listen: at least one address is required"},
		{"no users", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1"}}}}`,
			"users: at least one user is required"},
		{"tls without key", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"p"}],"tls":{"certificate_file":"/c.pem"}}}}`,
			"tls.key_file is required"},
		{"tls files missing", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"p"}],"tls":{"certificate_file":"/nonexistent/c.pem","key_file":"/nonexistent/k.pem"}}}}`,
			`tls: loading certificate_file "/nonexistent/c.pem" and key_file "/nonexistent/k.pem"`},
		{"negative write_timeout", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"p"}],"write_timeout":-1}}}`,
			"write_timeout must not be negative"},
		{"no secret", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u"}]}}}`,
			`user "u": password or password_hash is required`},
		{"bad hash", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password_hash":"*12"}]}}}`,
			`user "u": password_hash`},
		{"hash mismatch", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"other","password_hash":"*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"}]}}}`,
			`user "u": password and password_hash do not match`},
		{"duplicate user", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"p"},{"username":"u","password":"q"}]}}}`,
			`users[1]: user "u" is listed twice`},
		{"unknown placeholder", `{"servers":{"a":{"listen":[":3307"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"{nope.x}"}]}}}`,
			`user "u": password`},
		{"shared listener", `{"servers":{"a":{"listen":["127.0.0.1:3307"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"p"}]},` +
			`"b":{"listen":["127.0.0.1:3307"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"p"}]}}}`,
			`servers "a" and "b" both listen on`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := provisionJSON(t, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestConfigDefaultsAndSecrets(t *testing.T) {
	t.Setenv("FRONTDESK_TEST_DB_PW", "password")
	app, err := provisionJSON(t, `{"servers":{"a":{"listen":["127.0.0.1:3307"],
		"cluster":{"primary":"127.0.0.1:3306","replicas":["unix//run/r.sock"]},
		"users":[{"username":"app","password":"{env.FRONTDESK_TEST_DB_PW}"},
		         {"username":"ro","password_hash":"*2470c0c06dee42fd1618bb99005adca2ec9d1e19"}]}}}`)
	if err != nil {
		t.Fatal(err)
	}
	s := app.Servers["a"]
	if s.ConnectTimeout != caddy.Duration(defaultConnectTimeout) || s.IdleTimeout != caddy.Duration(defaultIdleTimeout) ||
		s.HandshakeTimeout != caddy.Duration(defaultHandshakeTimeout) || s.Routing.MaxSessionLog != defaultMaxSessionLog {
		t.Errorf("defaults not applied: %+v %+v", s, s.Routing)
	}
	if got := s.replicas()[0].addr; got.network != "unix" || got.address != "/run/r.sock" {
		t.Errorf("unix replica parsed as %+v", got)
	}
	// Both users have the double SHA1 of "password": one from the
	// placeholder's value, one from the hash in lower case.
	want, _ := wire.ParseNativeHash(wire.DoubleSHA1Hex([]byte("password")))
	for _, name := range []string{"app", "ro"} {
		if u := s.users[name]; u == nil || string(u.doubleSHA1) != string(want) {
			t.Errorf("user %s: hash %x, want %x", name, u.doubleSHA1, want)
		}
	}
	if string(s.users["app"].password) != "password" || s.users["ro"].password != nil {
		t.Errorf("cleartext passwords: app %q, ro %q", s.users["app"].password, s.users["ro"].password)
	}
}

func TestAuthenticate(t *testing.T) {
	users, err := provisionUsers([]User{{Username: "app", Password: "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{users: users}
	nonce := wire.NewNonce()
	u, sha1pw := srv.authenticate("app", nonce, wire.Scramble([]byte("s3cret"), nonce))
	if u == nil {
		t.Fatal("the right password was refused")
	}
	// What was recovered answers a backend's challenge like the password.
	other := wire.NewNonce()
	if string(wire.ScrambleFromSHA1(sha1pw, other)) != string(wire.Scramble([]byte("s3cret"), other)) {
		t.Error("the recovered SHA1 does not log in to backends")
	}
	for _, tc := range []struct {
		name, user string
		reply      []byte
	}{
		{"wrong password", "app", wire.Scramble([]byte("guess"), nonce)},
		{"no password", "app", nil},
		{"unknown user", "nobody", wire.Scramble([]byte("s3cret"), nonce)},
		{"replayed reply", "app", wire.Scramble([]byte("s3cret"), wire.NewNonce())},
	} {
		if u, _ := srv.authenticate(tc.user, nonce, tc.reply); u != nil {
			t.Errorf("%s: login accepted", tc.name)
		}
	}
}

// TestListenClashesWithHTTP: a mysql server may not listen where a server
// of the http app does; with SO_REUSEPORT both would bind and share the
// connections.
func TestListenClashesWithHTTP(t *testing.T) {
	config := func(httpListen, mysqlListen string) []byte {
		return []byte(`{"apps":{
			"http":{"servers":{"web":{"listen":["` + httpListen + `"],"routes":[]}}},
			"mysql":{"servers":{"db":{"listen":["` + mysqlListen + `"],"cluster":{"primary":"127.0.0.1:1"},"users":[{"username":"u","password":"p"}]}}}}}`)
	}
	for _, tc := range []struct {
		http, mysql string
		clash       bool
	}{
		{"127.0.0.1:18080", "127.0.0.1:18080", true},
		{":18080", "127.0.0.1:18080", true},
		{"127.0.0.1:18000-18100", "127.0.0.1:18080", true},
		{"127.0.0.1:18080", "127.0.0.1:18081", false},
		{"127.0.0.2:18080", "127.0.0.1:18080", false},
		{"unix//tmp/frontdesk-clash.sock", "unix//tmp/frontdesk-clash.sock", true},
	} {
		var cfg caddy.Config
		if err := json.Unmarshal(config(tc.http, tc.mysql), &cfg); err != nil {
			t.Fatal(err)
		}
		err := caddy.Validate(&cfg)
		if tc.clash {
			if err == nil || !strings.Contains(err.Error(), `the http app's server "web" listens on "`+tc.http+`" too`) {
				t.Errorf("http %s, mysql %s: %v; want the clash named", tc.http, tc.mysql, err)
			}
		} else if err != nil {
			t.Errorf("http %s, mysql %s: %v; want no error", tc.http, tc.mysql, err)
		}
	}
}

func TestPoolSettings(t *testing.T) {
	p := &Pool{MaxConnections: 10, MaxIdle: 50}
	if err := p.provision(); err != nil {
		t.Fatal(err)
	}
	if p.MaxIdle != 10 || p.WaitTimeout == 0 || p.IdleTimeout == 0 || p.MaxLifetime == 0 || p.MaxWaiting == 0 {
		t.Errorf("defaults not filled in, or max_idle above max_connections: %+v", p)
	}
	for _, bad := range []*Pool{{MaxConnections: -1}, {WaitTimeout: -1}, {MaxWaiting: -1}} {
		if err := bad.provision(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
