package wire

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// NonceSize is the length of the authentication nonce (scramble) a server
// sends in the handshake.
const NonceSize = 20

// NewNonce returns a fresh 20-byte nonce from crypto/rand. Like MariaDB's, its
// bytes are printable ASCII ('!' to '~'), so it never contains NUL.
func NewNonce() []byte {
	const lo, span = '!', '~' - '!' + 1 // 94 printable characters
	nonce := make([]byte, NonceSize)
	var buf [2 * NonceSize]byte
	for i := 0; i < len(nonce); {
		_, _ = rand.Read(buf[:]) // never fails since Go 1.24
		for _, c := range buf {
			// Rejection sampling keeps the distribution uniform.
			if c >= 2*span {
				continue
			}
			nonce[i] = lo + c%span
			if i++; i == len(nonce) {
				break
			}
		}
	}
	return nonce
}

// Scramble computes the mysql_native_password reply to nonce:
// SHA1(password) XOR SHA1(nonce || SHA1(SHA1(password))). An empty password
// yields an empty reply, as clients send.
func Scramble(password, nonce []byte) []byte {
	if len(password) == 0 {
		return nil
	}
	stage1 := sha1.Sum(password)
	return ScrambleFromSHA1(stage1[:], nonce)
}

// ScrambleFromSHA1 computes the mysql_native_password reply to nonce from
// SHA1(password) alone: sha1pw XOR SHA1(nonce || SHA1(sha1pw)). The proxy uses
// it to log in to backends with the SHA1 that VerifyNative recovered. sha1pw
// must be 20 bytes long.
func ScrambleFromSHA1(sha1pw, nonce []byte) []byte {
	stage2 := sha1.Sum(sha1pw)
	h := sha1.New()
	h.Write(nonce)
	h.Write(stage2[:])
	reply := h.Sum(nil)
	subtle.XORBytes(reply, reply, sha1pw)
	return reply
}

// DoubleSHA1Hex returns the mysql_native_password hash of password in the
// format of mysql.user's authentication_string: '*' followed by
// upper-case hex of SHA1(SHA1(password)). An empty password has the empty
// hash "".
func DoubleSHA1Hex(password []byte) string {
	if len(password) == 0 {
		return ""
	}
	stage1 := sha1.Sum(password)
	stage2 := sha1.Sum(stage1[:])
	return "*" + strings.ToUpper(hex.EncodeToString(stage2[:]))
}

// ParseNativeHash decodes a mysql_native_password hash in DoubleSHA1Hex
// format into the 20 bytes of SHA1(SHA1(password)). The empty string (no
// password) decodes to an empty slice.
func ParseNativeHash(s string) ([]byte, error) {
	if s == "" {
		return []byte{}, nil
	}
	if len(s) != 1+2*sha1.Size || s[0] != '*' {
		return nil, fmt.Errorf("mysql native password hash: want '*' and %d hex digits, have %d characters", 2*sha1.Size, len(s))
	}
	b, err := hex.DecodeString(s[1:])
	if err != nil {
		return nil, fmt.Errorf("mysql native password hash: %w", err)
	}
	return b, nil
}

// VerifyNative checks a client's mysql_native_password reply against the
// stored SHA1(SHA1(password)) (see ParseNativeHash) and the nonce the proxy
// sent. On success it returns SHA1(password), recovered from the reply, which
// lets the proxy answer any backend's nonce with ScrambleFromSHA1 without
// knowing the password. The comparison is constant-time. An empty stored
// hash accepts only an empty reply (and returns a nil sha1pw).
func VerifyNative(storedDoubleSHA1, nonce, clientReply []byte) (sha1pw []byte, ok bool) {
	if len(storedDoubleSHA1) == 0 {
		return nil, len(clientReply) == 0
	}
	if len(storedDoubleSHA1) != sha1.Size || len(clientReply) != sha1.Size {
		return nil, false
	}
	h := sha1.New()
	h.Write(nonce)
	h.Write(storedDoubleSHA1)
	candidate := h.Sum(nil)
	subtle.XORBytes(candidate, candidate, clientReply)
	check := sha1.Sum(candidate)
	if subtle.ConstantTimeCompare(check[:], storedDoubleSHA1) != 1 {
		return nil, false
	}
	return candidate, true
}

// ScrambleCachingSHA2 computes the caching_sha2_password fast-auth reply to
// nonce: SHA256(password) XOR SHA256(SHA256(SHA256(password)) || nonce). An
// empty password yields an empty reply.
func ScrambleCachingSHA2(password, nonce []byte) []byte {
	if len(password) == 0 {
		return nil
	}
	stage1 := sha256.Sum256(password)
	stage2 := sha256.Sum256(stage1[:])
	h := sha256.New()
	h.Write(stage2[:])
	h.Write(nonce)
	reply := h.Sum(nil)
	subtle.XORBytes(reply, reply, stage1[:])
	return reply
}
