package install_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/reef-dev/reef/internal/install"
)

// Install a local package into an in-memory root and list what an image
// layer would hold.
func Example() {
	apkFile := filepath.Join("..", "..", "..", "shared", "fixtures", "melange-built-repo", "packages", "x86_64", "pretend-baselayout-1.0.0-r0.apk")
	root := install.NewMemFS()
	in := &install.Installer{FS: root, Arch: "x86_64"}
	pkg := install.Package{Open: func() (io.ReadCloser, error) { return os.Open(apkFile) }}
	if _, err := in.Install(context.Background(), []install.Package{pkg}, install.Options{World: []string{"pretend-baselayout"}}); err != nil {
		fmt.Println(err)
		return
	}
	root.Walk(func(e *install.Entry, data []byte) error {
		fmt.Printf("%-10s %04o %d:%d %s\n", e.Type, e.Mode, e.UID, e.GID, e.Name)
		return nil
	})
	// Output:
	// directory  0755 0:0 etc
	// directory  0755 0:0 etc/apk
	// regular file 0644 0:0 etc/apk/arch
	// directory  0755 0:0 etc/apk/keys
	// regular file 0644 0:0 etc/apk/world
	// regular file 0644 501:20 etc/os-release
	// directory  0755 0:0 lib
	// directory  0755 0:0 lib/apk
	// directory  0755 0:0 lib/apk/db
	// regular file 0644 0:0 lib/apk/db/installed
	// regular file 0600 0:0 lib/apk/db/lock
	// regular file 0644 0:0 lib/apk/db/scripts.tar
	// regular file 0644 0:0 lib/apk/db/triggers
	// directory  0755 0:0 var
	// directory  0755 0:0 var/lib
	// directory  0755 0:0 var/lib/db
	// directory  0755 0:0 var/lib/db/sbom
	// regular file 0644 0:0 var/lib/db/sbom/pretend-baselayout-1.0.0-r0.spdx.json
}
