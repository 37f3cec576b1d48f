package authn

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// APIKey is one accepted API key, known only by its hash.
type APIKey struct {
	// The key's id: {http.auth.user.id} when it is used. Required, unique.
	ID string `json:"id"`

	// The SHA-256 hash of the key, as `sha256:` and 64 hex digits or the
	// base64 of the 32 bytes (what `frontdesk hash-api-key` prints).
	Hash string `json:"hash"`

	// The key's scopes: {http.auth.user.scopes}, space-separated.
	Scopes []string `json:"scopes,omitempty"`

	// Who holds the key: {http.auth.user.owner}.
	Owner string `json:"owner,omitempty"`
}

// hashPrefix starts every stored hash.
const hashPrefix = "sha256:"

// parseKeyHash reads a stored hash in any of its accepted forms.
func parseKeyHash(s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	v := strings.TrimPrefix(s, hashPrefix)
	var raw []byte
	var err error
	switch len(v) {
	case 64:
		raw, err = hex.DecodeString(v)
	case 44:
		raw, err = base64.StdEncoding.DecodeString(v)
		if err != nil {
			raw, err = base64.URLEncoding.DecodeString(v)
		}
	case 43:
		raw, err = base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			raw, err = base64.RawStdEncoding.DecodeString(v)
		}
	default:
		err = fmt.Errorf("wrong length")
	}
	if err != nil || len(raw) != sha256.Size {
		return sum, fmt.Errorf("%q is not a SHA-256 hash (want sha256: and 64 hex digits or 44 base64 characters)", logValue(s))
	}
	copy(sum[:], raw)
	return sum, nil
}

// hashKey is the stored form of a key: sha256: and its hash in hex.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// storedKey is an APIKey ready for lookups.
type storedKey struct {
	sum [sha256.Size]byte
	id  *identity
	// scopes for require_scopes checks.
	scopes []string
}

// keyStore finds a key by its hash. It is indexed by the first 8 bytes of
// the hash, and a candidate's whole hash is compared in constant time.
type keyStore struct {
	byPrefix map[uint64][]*storedKey
	size     int
}

func newKeyStore() *keyStore { return &keyStore{byPrefix: map[uint64][]*storedKey{}} }

// add stores a key; ids and hashes must be unique.
func (ks *keyStore) add(k APIKey, ids map[string]bool) error {
	if k.ID == "" {
		return fmt.Errorf("a key has no id")
	}
	if ids[k.ID] {
		return fmt.Errorf("key id %q is used twice", k.ID)
	}
	sum, err := parseKeyHash(k.Hash)
	if err != nil {
		return fmt.Errorf("key %q: %v", k.ID, err)
	}
	if ks.find(sum) != nil {
		return fmt.Errorf("key %q has the same hash as another key", k.ID)
	}
	ids[k.ID] = true
	meta := map[string]string{}
	if len(k.Scopes) > 0 {
		meta["scopes"] = strings.Join(k.Scopes, " ")
	}
	if k.Owner != "" {
		meta["owner"] = k.Owner
	}
	p := binary.BigEndian.Uint64(sum[:8])
	ks.byPrefix[p] = append(ks.byPrefix[p], &storedKey{sum: sum, id: &identity{id: k.ID, metadata: meta}, scopes: k.Scopes})
	ks.size++
	return nil
}

// find returns the key whose hash is sum.
func (ks *keyStore) find(sum [sha256.Size]byte) *storedKey {
	var found *storedKey
	for _, k := range ks.byPrefix[binary.BigEndian.Uint64(sum[:8])] {
		if subtle.ConstantTimeCompare(k.sum[:], sum[:]) == 1 {
			found = k
		}
	}
	return found
}

// parseKeysLine reads one key of a keys file (or an inline key):
//
//	<id> <hash> [scopes=<scope>,<scope>...] [owner=<owner>]
func parseKeysLine(fields []string) (APIKey, error) {
	if len(fields) < 2 {
		return APIKey{}, fmt.Errorf("want <id> <hash> [scopes=a,b] [owner=name]")
	}
	k := APIKey{ID: fields[0], Hash: fields[1]}
	if _, err := parseKeyHash(k.Hash); err != nil {
		return k, err
	}
	for _, f := range fields[2:] {
		name, value, ok := strings.Cut(f, "=")
		switch {
		case ok && name == "scopes":
			for s := range strings.SplitSeq(value, ",") {
				if s != "" {
					k.Scopes = append(k.Scopes, s)
				}
			}
		case ok && name == "owner":
			k.Owner = value
		default:
			return k, fmt.Errorf("unknown field %q (want scopes=... or owner=...)", logValue(f))
		}
	}
	return k, nil
}

// readKeysFile reads a keys file: one key per line as parseKeysLine
// takes it; blank lines and lines starting with # are skipped.
func readKeysFile(path string) ([]APIKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []APIKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseKeysLine(strings.Fields(line))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		keys = append(keys, k)
	}
	return keys, sc.Err()
}
