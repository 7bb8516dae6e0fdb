package repo

import (
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/reef-dev/reef/internal/apk"
)

// fixtures is the shared fixture directory, beside the repository.
const fixtures = "../../../shared/fixtures"

func fixture(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(fixtures, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	return p
}

func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixture(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyringOf loads key files (fixture-relative) into a new keyring.
func keyringOf(t testing.TB, rels ...string) *apk.Keyring {
	t.Helper()
	kr := apk.NewKeyring()
	for _, r := range rels {
		if err := kr.Load(fixture(t, r)); err != nil {
			t.Fatal(err)
		}
	}
	return kr
}

var (
	testKeysMu sync.Mutex
	testKeys   = map[string]*rsa.PrivateKey{}
)

// testSigner returns a signer with a key generated once per test binary
// for name, and a keyring trusting it under name+".rsa.pub".
func testSigner(t testing.TB, name string) (*apk.Signer, *apk.Keyring) {
	t.Helper()
	testKeysMu.Lock()
	key := testKeys[name]
	if key == nil {
		var err error
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			testKeysMu.Unlock()
			t.Fatal(err)
		}
		testKeys[name] = key
	}
	testKeysMu.Unlock()
	kr := apk.NewKeyring()
	kr.Add(name+".rsa.pub", &key.PublicKey)
	return &apk.Signer{Key: key, KeyName: name + ".rsa.pub", Alg: apk.AlgRSA256}, kr
}

// samePackages reports whether two record lists are equal field by field,
// treating nil and empty lists alike.
func samePackages(a, b []*Package) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !samePackage(a[i], b[i]) {
			return false
		}
	}
	return true
}

func samePackage(a, b *Package) bool {
	x, y := *a, *b
	for _, l := range []*[]string{&x.Depends, &x.Provides, &x.InstallIf, &y.Depends, &y.Provides, &y.InstallIf} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return reflect.DeepEqual(x, y)
}
