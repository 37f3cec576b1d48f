package wire

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestDoubleSHA1Hex(t *testing.T) {
	// SELECT PASSWORD('password') on MySQL 5.7 / MariaDB.
	const want = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
	if got := DoubleSHA1Hex([]byte("password")); got != want {
		t.Fatalf("DoubleSHA1Hex = %s, want %s", got, want)
	}
	if DoubleSHA1Hex(nil) != "" {
		t.Error("empty password has a hash")
	}
	h, err := ParseNativeHash(want)
	if err != nil || hex.EncodeToString(h) != "2470c0c06dee42fd1618bb99005adca2ec9d1e19" {
		t.Fatalf("ParseNativeHash: %x, %v", h, err)
	}
	for _, bad := range []string{"2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", "*2470", "*ZZ70C0C06DEE42FD1618BB99005ADCA2EC9D1E19"} {
		if _, err := ParseNativeHash(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestScrambleKnownVector(t *testing.T) {
	// The reply computed by the definition, spelled out.
	nonce := []byte("abcdefghijklmnopqrst")
	stage1 := sha1.Sum([]byte("password"))
	stage2 := sha1.Sum(stage1[:])
	mix := sha1.Sum(append(append([]byte(nil), nonce...), stage2[:]...))
	want := make([]byte, 20)
	for i := range want {
		want[i] = stage1[i] ^ mix[i]
	}
	got := Scramble([]byte("password"), nonce)
	if !bytes.Equal(got, want) {
		t.Fatalf("Scramble = %x, want %x", got, want)
	}
	// Fixed vector, computed independently with Python's hashlib.
	if hex.EncodeToString(got) != "bfdd49584b917d42c758edd2a7a541f721843041" {
		t.Errorf("Scramble = %x", got)
	}
	if Scramble(nil, nonce) != nil {
		t.Error("empty password gives a non-empty reply")
	}
}

func TestVerifyNative(t *testing.T) {
	stored, _ := ParseNativeHash(DoubleSHA1Hex([]byte("password")))
	clientNonce := NewNonce()
	reply := Scramble([]byte("password"), clientNonce)

	sha1pw, ok := VerifyNative(stored, clientNonce, reply)
	want := sha1.Sum([]byte("password"))
	if !ok || !bytes.Equal(sha1pw, want[:]) {
		t.Fatalf("VerifyNative = %x, %v; want SHA1(password) %x", sha1pw, ok, want)
	}
	// The recovered SHA1 logs in to a backend with another nonce.
	backendNonce := NewNonce()
	if token := ScrambleFromSHA1(sha1pw, backendNonce); !bytes.Equal(token, Scramble([]byte("password"), backendNonce)) {
		t.Error("backend token differs from the password's scramble")
	}

	forged := append([]byte(nil), reply...)
	forged[0] ^= 1
	if _, ok := VerifyNative(stored, clientNonce, forged); ok {
		t.Error("forged reply accepted")
	}
	if _, ok := VerifyNative(stored, NewNonce(), reply); ok {
		t.Error("reply to another nonce accepted")
	}
	if _, ok := VerifyNative(stored, clientNonce, Scramble([]byte("passw0rd"), clientNonce)); ok {
		t.Error("wrong password accepted")
	}
	if _, ok := VerifyNative(stored, clientNonce, nil); ok {
		t.Error("empty reply accepted for a password")
	}
	if _, ok := VerifyNative(stored, clientNonce, reply[:19]); ok {
		t.Error("short reply accepted")
	}
	empty, _ := ParseNativeHash("")
	if _, ok := VerifyNative(empty, clientNonce, nil); !ok {
		t.Error("empty password rejected")
	}
	if _, ok := VerifyNative(empty, clientNonce, reply); ok {
		t.Error("non-empty reply accepted for an empty password")
	}
}

func TestScrambleCachingSHA2(t *testing.T) {
	nonce := []byte("abcdefghijklmnopqrst")
	s1 := sha256.Sum256([]byte("secret"))
	s2 := sha256.Sum256(s1[:])
	mix := sha256.Sum256(append(s2[:], nonce...))
	want := make([]byte, 32)
	for i := range want {
		want[i] = s1[i] ^ mix[i]
	}
	got := ScrambleCachingSHA2([]byte("secret"), nonce)
	if !bytes.Equal(got, want) {
		t.Fatalf("ScrambleCachingSHA2 = %x, want %x", got, want)
	}
	// Fixed vector, computed independently with Python's hashlib.
	if hex.EncodeToString(got) != "c76e2898612a4cf042c77fa8c4702c4c64c0c2c557c53c4d75595aaa6abae809" {
		t.Errorf("ScrambleCachingSHA2 = %x", got)
	}
	if ScrambleCachingSHA2(nil, nonce) != nil {
		t.Error("empty password gives a non-empty reply")
	}
}

func TestNewNonce(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := NewNonce()
		if len(n) != NonceSize {
			t.Fatalf("nonce of %d bytes", len(n))
		}
		for _, c := range n {
			if c < '!' || c > '~' {
				t.Fatalf("nonce byte %#x not printable", c)
			}
		}
		if seen[string(n)] {
			t.Fatal("repeated nonce")
		}
		seen[string(n)] = true
	}
}
