package authn

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"slices"

	"github.com/caddyserver/caddy/v2"
	jose "github.com/go-jose/go-jose/v4"
)

// StaticKey is a key configured directly: an HMAC secret or a PEM public
// key, with the one algorithm tokens signed by it must name.
type StaticKey struct {
	// The key id. A token whose header names a kid is checked only
	// against keys of that id; a token without a kid against every key
	// of its algorithm. Optional.
	ID string `json:"kid,omitempty"`

	// The algorithm tokens signed by this key must use, one of HS256,
	// HS384, HS512 (with secret), RS256, RS384, RS512, PS256, PS384,
	// PS512 (RSA), ES256 (P-256), ES384 (P-384), ES512 (P-521) or EdDSA
	// (Ed25519). Required.
	Algorithm string `json:"alg"`

	// The HMAC secret, as text; placeholders such as {env.JWT_SECRET} or
	// {file./run/secrets/jwt} are replaced at load. It must be at least as
	// long as the hash: 32 bytes for HS256, 48 for HS384, 64 for HS512.
	Secret string `json:"secret,omitempty"`

	// A PEM public key (PKIX "PUBLIC KEY", PKCS #1 "RSA PUBLIC KEY") or a
	// certificate whose key is used.
	PublicKey string `json:"public_key,omitempty"`

	// The path of a file holding PublicKey.
	PublicKeyFile string `json:"public_key_file,omitempty"`
}

// verifyKey is a key tokens are checked against, with its pinned
// algorithm.
type verifyKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key any
}

// hmacMinBytes is the shortest secret RFC 7518 §3.2 allows per algorithm.
var hmacMinBytes = map[jose.SignatureAlgorithm]int{jose.HS256: 32, jose.HS384: 48, jose.HS512: 64}

// asymmetricAlgorithms are the algorithms keys of a JWKS may be pinned to
// when config does not say otherwise; symmetric keys are never taken from
// a JWKS URL.
var asymmetricAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// parseAlgorithm returns the algorithm named s, if Frontdesk verifies it.
func parseAlgorithm(s string) (jose.SignatureAlgorithm, error) {
	alg := jose.SignatureAlgorithm(s)
	if slices.Contains(asymmetricAlgorithms, alg) || hmacMinBytes[alg] > 0 {
		return alg, nil
	}
	return "", fmt.Errorf("unsupported algorithm %q", s)
}

// load turns the configured key into a verifyKey.
func (k StaticKey) load(repl *caddy.Replacer) (*verifyKey, error) {
	alg, err := parseAlgorithm(k.Algorithm)
	if err != nil {
		return nil, err
	}
	sources := 0
	for _, s := range []string{k.Secret, k.PublicKey, k.PublicKeyFile} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return nil, fmt.Errorf("give exactly one of secret, public_key and public_key_file")
	}
	vk := &verifyKey{kid: k.ID, alg: alg}
	if k.Secret != "" {
		secret := repl.ReplaceKnown(k.Secret, "")
		if hmacMinBytes[alg] == 0 {
			return nil, fmt.Errorf("a secret is an HMAC key, but the algorithm is %s", alg)
		}
		if len(secret) < hmacMinBytes[alg] {
			return nil, fmt.Errorf("the %s secret has %d bytes; it needs at least %d", alg, len(secret), hmacMinBytes[alg])
		}
		vk.key = []byte(secret)
		return vk, nil
	}
	data := []byte(k.PublicKey)
	if k.PublicKeyFile != "" {
		if data, err = os.ReadFile(k.PublicKeyFile); err != nil {
			return nil, err
		}
	}
	pub, err := parsePublicKeyPEM(data)
	if err != nil {
		return nil, err
	}
	if !algorithmFits(alg, pub) {
		return nil, fmt.Errorf("a %s key cannot verify %s", keyKind(pub), alg)
	}
	vk.key = pub
	return vk, nil
}

// parsePublicKeyPEM reads the first PEM block of data as a public key.
func parsePublicKeyPEM(data []byte) (any, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key or certificate (a private key does not belong here)", block.Type)
}

// algorithmFits reports whether alg is an algorithm for key's type (and,
// for ECDSA, its curve).
func algorithmFits(alg jose.SignatureAlgorithm, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return slices.Contains([]jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512}, alg) &&
			k.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return alg == jose.ES256
		case elliptic.P384():
			return alg == jose.ES384
		case elliptic.P521():
			return alg == jose.ES512
		}
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	case []byte:
		return hmacMinBytes[alg] > 0
	}
	return false
}

// keyKind names a key's type for error messages.
func keyKind(key any) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", key)
}

// pinJWK pins the algorithm of a key from a JWKS: the key's own "alg" if it
// names one (which must be allowed), else the first allowed algorithm that
// fits the key. Keys for encryption, symmetric keys unless symmetricOK,
// and keys that fit no allowed algorithm are refused.
func pinJWK(k jose.JSONWebKey, allowed []jose.SignatureAlgorithm, symmetricOK bool) (*verifyKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("key %q is for %q, not signatures", k.KeyID, k.Use)
	}
	key := k.Key
	if _, symmetric := key.([]byte); symmetric {
		if !symmetricOK {
			return nil, fmt.Errorf("key %q is symmetric; a remote JWKS may carry only public keys", k.KeyID)
		}
	} else if !k.IsPublic() {
		key = k.Public().Key
	}
	if k.Algorithm != "" {
		alg := jose.SignatureAlgorithm(k.Algorithm)
		if !slices.Contains(allowed, alg) {
			return nil, fmt.Errorf("key %q is for %s, which is not an allowed algorithm", k.KeyID, alg)
		}
		if !algorithmFits(alg, key) {
			return nil, fmt.Errorf("key %q (%s) cannot verify %s", k.KeyID, keyKind(key), alg)
		}
		if b, ok := key.([]byte); ok && len(b) < hmacMinBytes[alg] {
			return nil, fmt.Errorf("key %q is too short for %s", k.KeyID, alg)
		}
		return &verifyKey{kid: k.KeyID, alg: alg, key: key}, nil
	}
	for _, alg := range allowed {
		if algorithmFits(alg, key) {
			if b, ok := key.([]byte); ok && len(b) < hmacMinBytes[alg] {
				continue
			}
			return &verifyKey{kid: k.KeyID, alg: alg, key: key}, nil
		}
	}
	return nil, fmt.Errorf("key %q (%s) fits none of the allowed algorithms %v", k.KeyID, keyKind(key), allowed)
}

// parseJWKS reads a JWKS document and pins every usable key; keys that
// cannot be used are reported in skipped, without failing the others.
func parseJWKS(data []byte, allowed []jose.SignatureAlgorithm, symmetricOK bool) (keys []*verifyKey, skipped []error, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JWKS document: %v", err)
	}
	if doc.Keys == nil {
		return nil, nil, fmt.Errorf("not a JWKS document: no \"keys\" array")
	}
	for i, raw := range doc.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %v", i, err))
			continue
		}
		vk, err := pinJWK(jwk, allowed, symmetricOK)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		keys = append(keys, vk)
	}
	return keys, skipped, nil
}
