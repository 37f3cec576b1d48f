package mysqlproxy

import (
	"crypto/subtle"
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// User is an account that may log in through the proxy. The proxy logs in
// to every backend as the same user.
type User struct {
	// Username is the account name, as on the backends.
	Username string `json:"username"`

	// Password is the account's password. Placeholders such as {env.DB_PW}
	// or {file./run/secrets/db_pw} are replaced when the config loads. Give
	// either Password or PasswordHash.
	Password string `json:"password,omitempty"`

	// PasswordHash is the account's mysql_native_password hash, "*" and 40
	// hex digits, as in mysql.user or SELECT PASSWORD('...'). With only the
	// hash the proxy never holds the password: it recovers what a backend
	// login needs from each client's own login. This works while the
	// backends use mysql_native_password for the account.
	PasswordHash string `json:"password_hash,omitempty"`
}

// user is a provisioned User.
type user struct {
	name string
	// doubleSHA1 is SHA1(SHA1(password)), what mysql_native_password checks.
	doubleSHA1 []byte
	// password is the cleartext password, when configured.
	password []byte
}

func provisionUsers(users []User) (map[string]*user, error) {
	repl := caddy.NewReplacer()
	out := make(map[string]*user, len(users))
	for i, u := range users {
		if u.Username == "" {
			return nil, fmt.Errorf("users[%d]: username is required", i)
		}
		if _, dup := out[u.Username]; dup {
			return nil, fmt.Errorf("users[%d]: user %q is listed twice", i, u.Username)
		}
		pu := &user{name: u.Username}
		if u.PasswordHash != "" {
			h, err := wire.ParseNativeHash(u.PasswordHash)
			if err != nil {
				return nil, fmt.Errorf("user %q: password_hash: %v", u.Username, err)
			}
			pu.doubleSHA1 = h
		}
		if u.Password != "" {
			pw, err := repl.ReplaceOrErr(u.Password, true, true)
			if err != nil {
				return nil, fmt.Errorf("user %q: password: %v", u.Username, err)
			}
			pu.password = []byte(pw)
			h, _ := wire.ParseNativeHash(wire.DoubleSHA1Hex(pu.password))
			if pu.doubleSHA1 != nil && subtle.ConstantTimeCompare(h, pu.doubleSHA1) != 1 {
				return nil, fmt.Errorf("user %q: password and password_hash do not match", u.Username)
			}
			pu.doubleSHA1 = h
		}
		if pu.doubleSHA1 == nil {
			return nil, fmt.Errorf("user %q: password or password_hash is required", u.Username)
		}
		out[u.Username] = pu
	}
	return out, nil
}
