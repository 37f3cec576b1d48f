package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

const mysqlServerCaps = ClientLongPassword | ClientFoundRows | ClientLongFlag | ClientConnectWithDB |
	ClientProtocol41 | ClientSSL | ClientTransactions | ClientSecureConnection | ClientMultiStatements |
	ClientMultiResults | ClientPSMultiResults | ClientPluginAuth | ClientConnectAttrs |
	ClientPluginAuthLenEncClientData | ClientSessionTrack | ClientDeprecateEOF

func TestHandshakeRoundTrip(t *testing.T) {
	nonce := NewNonce()
	cases := map[string]*Handshake{
		"mysql": {
			ServerVersion: "8.0.36", ConnectionID: 42, Scramble: nonce,
			Capabilities: mysqlServerCaps, Charset: 255, Status: StatusAutocommit,
			AuthPlugin: AuthCachingSHA2,
		},
		"mariadb extended caps": {
			ServerVersion: "5.5.5-10.11.6-MariaDB", ConnectionID: 7, Scramble: nonce,
			Capabilities: mysqlServerCaps&^ClientMySQL | MariaDBClientProgress | MariaDBClientStmtBulkOperations |
				MariaDBClientExtendedMetadata | MariaDBClientCacheMetadata,
			Charset: 45, Status: StatusAutocommit, AuthPlugin: AuthNativePassword,
		},
	}
	for name, h := range cases {
		p := h.Append(nil)
		got, err := ParseHandshake(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, h) {
			t.Errorf("%s: got %+v, want %+v", name, got, h)
		}
	}
}

func TestParseHandshakeVariants(t *testing.T) {
	h := &Handshake{ServerVersion: "8.0", Scramble: []byte("abcdefghijklmnopqrst"), Capabilities: mysqlServerCaps, AuthPlugin: AuthNativePassword}
	p := h.Append(nil)
	// Servers that omit the NUL after the plugin name (MySQL bug #59453).
	got, err := ParseHandshake(p[:len(p)-1])
	if err != nil || got.AuthPlugin != AuthNativePassword {
		t.Errorf("plugin without NUL: %+v, %v", got, err)
	}
	// The extended caps bytes are ignored when CLIENT_MYSQL is set.
	p = h.Append(nil)
	copy(p[len(p)-len(AuthNativePassword)-1-13-4:], []byte{1, 2, 3, 4})
	if got, err := ParseHandshake(p); err != nil || got.Capabilities != mysqlServerCaps {
		t.Errorf("mysql filler: caps %#x, %v", got.Capabilities, err)
	}
	// An ERR instead of a handshake is returned as the server's error.
	e := NewSQLError(ERConCountError, "Too many connections")
	_, err = ParseHandshake(e.Append(nil))
	var se *SQLError
	if !errors.As(err, &se) || se.Code != ERConCountError {
		t.Errorf("ERR greeting: %v", err)
	}
	if _, err := ParseHandshake([]byte{9, 'x', 0}); err == nil {
		t.Error("protocol 9: no error")
	}
	// 20 bytes is a complete pre-4.1 greeting; the 4.1 part is all or nothing
	// up to the end of auth-plugin-data part 2 (49 bytes with "8.0").
	for i := range 49 {
		if _, err := ParseHandshake(p[:i]); (err == nil) != (i == 20) {
			t.Errorf("truncated to %d bytes: err = %v", i, err)
		}
	}
}

func TestSSLRequest(t *testing.T) {
	p := AppendSSLRequest(nil, mysqlServerCaps, 1<<24, 45)
	if len(p) != 32 || !IsSSLRequest(p) {
		t.Fatalf("SSLRequest of %d bytes not detected", len(p))
	}
	r := &HandshakeResponse{Capabilities: mysqlServerCaps, Username: "u", Charset: 45}
	full, err := r.Append(nil)
	if err != nil || IsSSLRequest(full) {
		t.Errorf("full response detected as SSLRequest (%v)", err)
	}
	if IsSSLRequest(AppendSSLRequest(nil, mysqlServerCaps&^ClientSSL, 0, 0)) {
		t.Error("no SSL flag: detected")
	}
}

func TestHandshakeResponseRoundTrip(t *testing.T) {
	base := ClientProtocol41 | ClientLongPassword
	cases := map[string]*HandshakeResponse{
		"full lenenc": {
			Capabilities:  mysqlServerCaps,
			MaxPacketSize: 1 << 24, Charset: 45, Username: "app",
			AuthResponse: Scramble([]byte("secret"), NewNonce()), Database: "shop",
			AuthPlugin: AuthNativePassword,
			Attributes: []Attribute{{"_client_name", "libmariadb"}, {"program_name", "mysql"}, {"_empty", ""}},
		},
		"secure connection": {
			Capabilities: base | ClientSecureConnection | ClientPluginAuth,
			Username:     "u", AuthResponse: bytes.Repeat([]byte{0}, 20), AuthPlugin: AuthNativePassword,
		},
		"long auth lenenc": {
			Capabilities: base | ClientSecureConnection | ClientPluginAuthLenEncClientData | ClientPluginAuth,
			Username:     "u", AuthResponse: pattern(300), AuthPlugin: AuthClearPassword,
		},
		"old NUL auth": {
			Capabilities: base | ClientConnectWithDB, Username: "u", AuthResponse: []byte("pw"), Database: "db",
		},
		"mariadb ext": {
			Capabilities: base&^ClientMySQL | ClientSecureConnection | MariaDBClientProgress,
			Username:     "maria", AuthResponse: []byte{},
		},
	}
	for name, r := range cases {
		p, err := r.Append(nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := ParseHandshakeResponse(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.AuthResponse) == 0 && len(r.AuthResponse) == 0 {
			got.AuthResponse = r.AuthResponse
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, r)
		}
	}
}

func TestHandshakeResponseErrors(t *testing.T) {
	r := &HandshakeResponse{Capabilities: ClientProtocol41 | ClientSecureConnection, AuthResponse: pattern(256)}
	if _, err := r.Append(nil); err == nil {
		t.Error("256-byte auth without lenenc: no error")
	}
	r = &HandshakeResponse{Capabilities: ClientProtocol41, AuthResponse: []byte{1, 0, 2}}
	if _, err := r.Append(nil); err == nil {
		t.Error("NUL in NUL-terminated auth: no error")
	}
	p := AppendSSLRequest(nil, ClientSSL, 0, 0)
	p[1] = 0 // clear CLIENT_PROTOCOL_41
	if _, err := ParseHandshakeResponse(append(p, 'u', 0)); err == nil {
		t.Error("pre-4.1 response: no error")
	}
	good, _ := (&HandshakeResponse{Capabilities: mysqlServerCaps, Username: "app", AuthResponse: pattern(20),
		Attributes: []Attribute{{"k", "v"}}}).Append(nil)
	// Every cut inside the mandatory part or the attributes is an error.
	for _, cut := range []int{10, 33, 36, len(good) - 1} {
		if _, err := ParseHandshakeResponse(good[:cut]); err == nil {
			t.Errorf("cut at %d of %d: no error", cut, len(good))
		}
	}
}

func TestAuthSwitchAndMoreData(t *testing.T) {
	nonce := NewNonce()
	a := AuthSwitchRequest{Plugin: AuthNativePassword, Data: append(append([]byte(nil), nonce...), 0)}
	got, err := ParseAuthSwitchRequest(a.Append(nil))
	if err != nil || got.Plugin != a.Plugin || !bytes.Equal(got.Nonce(), nonce) {
		t.Fatalf("auth switch: %+v, %v", got, err)
	}
	if _, err := ParseAuthSwitchRequest([]byte{0xfe}); err == nil {
		t.Error("switch without plugin: no error")
	}
	if _, err := ParseAuthSwitchRequest([]byte{0x00, 'a', 0}); err == nil {
		t.Error("wrong header: no error")
	}
	data, err := ParseAuthMoreData(AppendAuthMoreData(nil, []byte{CachingSHA2FastAuthOK}))
	if err != nil || !bytes.Equal(data, []byte{CachingSHA2FastAuthOK}) {
		t.Errorf("more data: %x, %v", data, err)
	}
	if _, err := ParseAuthMoreData(nil); err == nil {
		t.Error("empty more data: no error")
	}
}

func TestChangeUserRoundTrip(t *testing.T) {
	caps := mysqlServerCaps
	cu := &ChangeUser{
		Username: "other", AuthResponse: pattern(20), Database: "db", Charset: 45,
		AuthPlugin: AuthNativePassword, Attributes: []Attribute{{"_pid", "123"}},
	}
	p, err := cu.Append(nil, caps)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseChangeUser(p, caps)
	if err != nil || !reflect.DeepEqual(got, cu) {
		t.Fatalf("got %+v, %v", got, err)
	}
	// Old clients stop after the database name.
	old := append([]byte{ComChangeUser}, "u\x00\x00db\x00"...)
	got, err = ParseChangeUser(old, caps)
	if err != nil || got.Username != "u" || got.Database != "db" || got.Charset != 0 {
		t.Errorf("short form: %+v, %v", got, err)
	}
	if _, err := ParseChangeUser([]byte{ComQuery, 'u', 0}, caps); err == nil {
		t.Error("wrong command: no error")
	}
	if _, err := ParseChangeUser(p[:len(p)-2], caps); err == nil {
		t.Error("truncated attributes: no error")
	}
}

func TestStmtPrepareOKRoundTrip(t *testing.T) {
	s := StmtPrepareOK{StatementID: 0xdeadbeef, Columns: 3, Params: 2, Warnings: 1}
	p := s.Append(nil)
	if len(p) != 12 {
		t.Fatalf("%d bytes, want 12", len(p))
	}
	got, err := ParseStmtPrepareOK(p)
	if err != nil || got != s {
		t.Fatalf("got %+v, %v", got, err)
	}
	if got, err := ParseStmtPrepareOK(p[:9]); err != nil || got.Warnings != 0 || got.Params != 2 {
		t.Errorf("without warnings: %+v, %v", got, err)
	}
	if _, err := ParseStmtPrepareOK(p[:8]); err == nil {
		t.Error("truncated: no error")
	}
}

func FuzzParseHandshake(f *testing.F) {
	h := &Handshake{ServerVersion: "10.11.6-MariaDB", Scramble: NewNonce(), Capabilities: mysqlServerCaps &^ ClientMySQL, AuthPlugin: AuthNativePassword}
	f.Add(h.Append(nil))
	f.Add([]byte{10, 'v', 0, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x82})
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := ParseHandshake(p)
		if err != nil {
			return
		}
		again, err := ParseHandshake(h.Append(nil))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(again, h) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, h)
		}
	})
}

func FuzzParseHandshakeResponse(f *testing.F) {
	for _, r := range []*HandshakeResponse{
		{Capabilities: mysqlServerCaps, Username: "app", AuthResponse: pattern(20), Database: "db", AuthPlugin: AuthNativePassword, Attributes: []Attribute{{"a", "b"}}},
		{Capabilities: ClientProtocol41 | ClientSecureConnection, Username: "u", AuthResponse: pattern(20)},
		{Capabilities: ClientProtocol41, Username: "u", AuthResponse: []byte("x")},
	} {
		p, _ := r.Append(nil)
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := ParseHandshakeResponse(p)
		if err != nil {
			return
		}
		b, err := r.Append(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := ParseHandshakeResponse(b)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !bytes.Equal(again.AuthResponse, r.AuthResponse) {
			t.Fatalf("auth response %x, want %x", again.AuthResponse, r.AuthResponse)
		}
		again.AuthResponse = r.AuthResponse
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, r)
		}
	})
}

func FuzzParseChangeUser(f *testing.F) {
	cu := &ChangeUser{Username: "u", AuthResponse: pattern(20), Database: "d", Charset: 45, AuthPlugin: AuthNativePassword, Attributes: []Attribute{{"k", "v"}}}
	p, _ := cu.Append(nil, mysqlServerCaps)
	f.Add(p, uint32(mysqlServerCaps))
	f.Add([]byte{ComChangeUser, 'u', 0, 'p', 0, 0}, uint32(ClientProtocol41))
	f.Fuzz(func(t *testing.T, p []byte, caps32 uint32) {
		caps := uint64(caps32)
		cu, err := ParseChangeUser(p, caps)
		if err != nil {
			return
		}
		b, err := cu.Append(nil, caps)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := ParseChangeUser(b, caps)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !bytes.Equal(again.AuthResponse, cu.AuthResponse) {
			t.Fatal("auth response differs")
		}
		again.AuthResponse = cu.AuthResponse
		if !reflect.DeepEqual(again, cu) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, cu)
		}
	})
}

func FuzzParseAuthPackets(f *testing.F) {
	f.Add(AuthSwitchRequest{Plugin: AuthNativePassword, Data: []byte("01234567890123456789\x00")}.Append(nil))
	f.Add(StmtPrepareOK{StatementID: 1, Columns: 2, Params: 3}.Append(nil))
	f.Add([]byte{HeaderAuthMoreData, CachingSHA2PerformFullAuth})
	f.Fuzz(func(t *testing.T, p []byte) {
		if a, err := ParseAuthSwitchRequest(p); err == nil {
			if !bytes.Equal(a.Append(nil), p) {
				t.Fatal("auth switch does not round-trip")
			}
		}
		if s, err := ParseStmtPrepareOK(p); err == nil {
			if again, err := ParseStmtPrepareOK(s.Append(nil)); err != nil || again != s {
				t.Fatal("prepare OK does not round-trip")
			}
		}
		if d, err := ParseAuthMoreData(p); err == nil && !bytes.Equal(AppendAuthMoreData(nil, d), p) {
			t.Fatal("auth more data does not round-trip")
		}
		IsSSLRequest(p)
	})
}
