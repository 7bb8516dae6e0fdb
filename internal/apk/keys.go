package apk

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/reef-dev/reef/internal/fsutil"
)

// Signature algorithms, as named in signature entries (.SIGN.<ALG>.<key>).
const (
	AlgRSA    = "RSA"    // RSA PKCS#1 v1.5 with SHA-1 (abuild's default)
	AlgRSA256 = "RSA256" // RSA PKCS#1 v1.5 with SHA-256 (melange's, and reef's default)
	AlgRSA512 = "RSA512" // RSA PKCS#1 v1.5 with SHA-512
)

// signPrefix starts the name of every signature entry.
const signPrefix = ".SIGN."

// Signature is one signature entry of a package or an index.
type Signature struct {
	Alg     string // AlgRSA, AlgRSA256 or AlgRSA512 (or another name found in a file)
	KeyName string // file name of the public key, e.g. "melange.rsa.pub"
	Value   []byte // raw PKCS#1 v1.5 signature
}

// EntryName returns the tar entry name of s: ".SIGN.<Alg>.<KeyName>".
func (s Signature) EntryName() string { return signPrefix + s.Alg + "." + s.KeyName }

// ParseSignatureName splits a signature entry name into algorithm and key
// name. ok is false when name is not a signature entry.
func ParseSignatureName(name string) (alg, keyName string, ok bool) {
	rest, found := strings.CutPrefix(name, signPrefix)
	if !found {
		return "", "", false
	}
	alg, keyName, found = strings.Cut(rest, ".")
	if !found || alg == "" || keyName == "" || strings.ContainsRune(keyName, '/') {
		return "", "", false
	}
	return alg, keyName, true
}

// NewHash returns the hash an algorithm signs with.
func NewHash(alg string) (hash.Hash, crypto.Hash, error) {
	switch alg {
	case AlgRSA:
		return sha1.New(), crypto.SHA1, nil
	case AlgRSA256:
		return sha256.New(), crypto.SHA256, nil
	case AlgRSA512:
		return sha512.New(), crypto.SHA512, nil
	}
	return nil, 0, fmt.Errorf("unsupported signature algorithm %q", alg)
}

// Signer signs packages and indexes with an RSA private key.
type Signer struct {
	Key     *rsa.PrivateKey
	KeyName string // public key file name recorded in signatures, e.g. "melange.rsa.pub"
	Alg     string // algorithm to sign with; AlgRSA256 when empty
}

// LoadSigner reads a PEM RSA private key (PKCS#1 "RSA PRIVATE KEY" or
// PKCS#8 "PRIVATE KEY"). The key name recorded in signatures is the file's
// base name plus ".pub", as melange and abuild do (melange.rsa →
// melange.rsa.pub).
func LoadSigner(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return &Signer{Key: key, KeyName: filepath.Base(path) + ".pub", Alg: AlgRSA256}, nil
}

// ParsePrivateKey parses a PEM-encoded RSA private key.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("key is %T, want RSA", k)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("PEM block is %q, want an RSA private key", block.Type)
}

// ParsePublicKey parses a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) RSA key,
// the format of /etc/apk/keys files. PKCS#1 "RSA PUBLIC KEY" is accepted too.
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("key is %T, want RSA", k)
		}
		return rk, nil
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	}
	return nil, fmt.Errorf("PEM block is %q, want a public key", block.Type)
}

// Sign signs data (the bytes the format signs: a package's control member,
// or an index's unsigned tar.gz) and returns the signature entry.
func (s *Signer) Sign(data []byte) (Signature, error) {
	alg := s.Alg
	if alg == "" {
		alg = AlgRSA256
	}
	h, ch, err := NewHash(alg)
	if err != nil {
		return Signature{}, err
	}
	h.Write(data)
	v, err := rsa.SignPKCS1v15(rand.Reader, s.Key, ch, h.Sum(nil))
	if err != nil {
		return Signature{}, err
	}
	return Signature{Alg: alg, KeyName: s.KeyName, Value: v}, nil
}

// GenerateKeyPair creates a new RSA key pair and writes NAME.rsa (PKCS#1
// PEM, mode 0600) and NAME.rsa.pub (PKIX PEM, mode 0644), each atomically.
// It refuses to overwrite existing files.
func GenerateKeyPair(name string, bits int) (privPath, pubPath string, err error) {
	privPath, pubPath = name+".rsa", name+".rsa.pub"
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("%s already exists; not overwriting it", p)
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return "", "", err
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := fsutil.WriteFileAtomic(privPath, privPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := fsutil.WriteFileAtomic(pubPath, pubPEM, 0o644); err != nil {
		return "", "", err
	}
	return privPath, pubPath, nil
}

// Keyring holds trusted public keys by file name, like /etc/apk/keys.
type Keyring struct {
	keys map[string]*rsa.PublicKey
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring { return &Keyring{keys: map[string]*rsa.PublicKey{}} }

// Add trusts pub under the file name name.
func (k *Keyring) Add(name string, pub *rsa.PublicKey) { k.keys[name] = pub }

// AddPEM parses a PEM public key and trusts it under name.
func (k *Keyring) AddPEM(name string, data []byte) error {
	pub, err := ParsePublicKey(data)
	if err != nil {
		return fmt.Errorf("key %s: %w", name, err)
	}
	k.Add(name, pub)
	return nil
}

// Load adds key files, or every regular file in key directories (as apk
// reads /etc/apk/keys). Each key is trusted under its base name.
func (k *Keyring) Load(paths ...string) error {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("keyring: %w", err)
		}
		files := []string{p}
		if st.IsDir() {
			ents, err := os.ReadDir(p)
			if err != nil {
				return fmt.Errorf("keyring: %w", err)
			}
			files = files[:0]
			for _, e := range ents {
				if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".pub") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("keyring: %w", err)
			}
			if err := k.AddPEM(filepath.Base(f), data); err != nil {
				return fmt.Errorf("keyring: %s: %w", f, err)
			}
		}
	}
	return nil
}

// Names returns the trusted key names, sorted.
func (k *Keyring) Names() []string {
	names := make([]string, 0, len(k.keys))
	for n := range k.keys {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Len returns the number of trusted keys.
func (k *Keyring) Len() int { return len(k.keys) }

// ErrUnsigned is returned by Verify when there is no signature at all.
var ErrUnsigned = errors.New("not signed")

// UnknownKeyError is returned by Verify when no signature's key is trusted.
type UnknownKeyError struct {
	KeyNames []string // the keys the signatures name
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("signed by an unknown key (%s); add the public key to the keyring (-k)", strings.Join(e.KeyNames, ", "))
}

// BadSignatureError is returned by Verify when a signature by a trusted key
// does not match the signed bytes.
type BadSignatureError struct {
	KeyName string
	Alg     string
	Err     error
}

func (e *BadSignatureError) Error() string {
	return fmt.Sprintf("%s signature by %s does not match the signed data (tampered, or made by another key with the same name): %v", e.Alg, e.KeyName, e.Err)
}

func (e *BadSignatureError) Unwrap() error { return e.Err }

// Verify checks sigs over data as apk does: the first signature whose key
// is in the keyring decides. It returns the key name that verified.
func (k *Keyring) Verify(sigs []Signature, data []byte) (string, error) {
	if len(sigs) == 0 {
		return "", ErrUnsigned
	}
	var names []string
	for _, s := range sigs {
		pub, ok := k.keys[s.KeyName]
		if !ok {
			names = append(names, s.KeyName)
			continue
		}
		h, ch, err := NewHash(s.Alg)
		if err != nil {
			return "", &BadSignatureError{KeyName: s.KeyName, Alg: s.Alg, Err: err}
		}
		h.Write(data)
		if err := rsa.VerifyPKCS1v15(pub, ch, h.Sum(nil), s.Value); err != nil {
			return "", &BadSignatureError{KeyName: s.KeyName, Alg: s.Alg, Err: err}
		}
		return s.KeyName, nil
	}
	return "", &UnknownKeyError{KeyNames: names}
}
