package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// The copy-on-write guest root is an overlay mount (lower: Config.Root;
// upper: <scratch>/upper) that exists only in a private mount namespace
// owned by the Bwrap, so it is never visible on the host and cannot
// outlive the process. bwrap binds it as the sandbox's /. bubblewrap 0.8
// (Debian 12) has no overlay options of its own, so reef mounts it, which
// needs root.
//
// Go cannot run code between fork and exec, so the namespace belongs to
// one locked OS thread (the "keeper"), which starts every bwrap: a child
// inherits its parent thread's namespaces. The keeper mounts the overlay
// once, so all the steps of a build share one mount (re-mounting the same
// upper layer while the kernel still tears down the previous step's
// namespace is what overlayfs warns about), and it lives until Close, as
// SysProcAttr.Pdeathsig refers to the thread that started the process.
// Close unmounts the overlay and ends the keeper's goroutine, and with it
// the thread and the namespace (see runtime.LockOSThread).

// keeper runs functions on the Bwrap's keeper thread.
type keeper struct {
	reqs chan func()
	done chan struct{}
}

// prepareOverlay makes the scratch directory and the overlay's options.
func (b *Bwrap) prepareOverlay() error {
	c := &b.cfg
	if b.scratch == "" {
		if c.ScratchDir != "" {
			dir, err := existingDir(c.ScratchDir, "scratch directory")
			if err != nil {
				return err
			}
			b.scratch = dir
		} else {
			dir, err := os.MkdirTemp("", "reef-sandbox-")
			if err != nil {
				return fmt.Errorf("sandbox: scratch directory: %w", err)
			}
			b.scratch, b.ownScratch = dir, true
		}
	}
	for _, p := range []string{c.Root, b.scratch} {
		if strings.ContainsAny(p, ",:\\") {
			return fmt.Errorf("sandbox: %s: a copy-on-write root cannot use a path holding ',', ':' or '\\'", p)
		}
	}
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(b.scratch, d), 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("sandbox: scratch directory: %w", err)
		}
	}
	b.overlay = fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s",
		c.Root, filepath.Join(b.scratch, "upper"), filepath.Join(b.scratch, "work"))
	return nil
}

// setupOverlay prepares the overlay and starts the keeper with it mounted.
func (b *Bwrap) setupOverlay() error {
	if err := b.prepareOverlay(); err != nil {
		return err
	}
	if err := b.startKeeper(true); err != nil {
		return fmt.Errorf("sandbox: cannot mount a copy-on-write guest root with its upper layer in %s (%v): set Config.ScratchDir to a directory on a local file system (not overlayfs), or use RootReadOnly", b.scratch, err)
	}
	return nil
}

// startKeeper starts the keeper thread, with the overlay mounted in a
// private mount namespace when overlay is set.
func (b *Bwrap) startKeeper(overlay bool) error {
	k := &keeper{reqs: make(chan func()), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		defer close(k.done)
		// Go keeps the main thread ("wedges" it) rather than ending it:
		// try to get off it. If that fails, the unmount below still
		// leaves nothing behind but an empty namespace.
		for i := 0; i < 10 && syscall.Gettid() == syscall.Getpid(); i++ {
			runtime.UnlockOSThread()
			runtime.Gosched()
			runtime.LockOSThread()
		}
		if overlay {
			if err := b.enterOverlay(); err != nil {
				errc <- err
				return
			}
			defer b.leaveOverlay()
		}
		errc <- nil
		for f := range k.reqs {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return err
	}
	b.keeper = k
	return nil
}

// stopKeeper ends the keeper thread, unmounting the overlay.
func (b *Bwrap) stopKeeper() {
	if b.keeper != nil {
		close(b.keeper.reqs)
		<-b.keeper.done
		b.keeper = nil
	}
}

// enterOverlay moves the calling (locked) thread into a new private mount
// namespace and mounts the overlay there.
func (b *Bwrap) enterOverlay() error {
	if err := syscall.Unshare(syscall.CLONE_NEWNS | syscall.CLONE_FS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := syscall.Mount("overlay", filepath.Join(b.scratch, "merged"), "overlay", 0, b.overlay); err != nil {
		return fmt.Errorf("mount overlay: %w", err)
	}
	return nil
}

// leaveOverlay unmounts the overlay in the calling thread's namespace.
func (b *Bwrap) leaveOverlay() {
	merged := filepath.Join(b.scratch, "merged")
	if syscall.Unmount(merged, 0) != nil {
		syscall.Unmount(merged, syscall.MNT_DETACH)
	}
}

// start starts cmd from the keeper thread and returns a channel that
// receives cmd.Wait's result.
func (b *Bwrap) start(cmd *exec.Cmd) (<-chan error, error) {
	started := make(chan error, 1)
	b.keeper.reqs <- func() { started <- cmd.Start() }
	if err := <-started; err != nil {
		return nil, fmt.Errorf("sandbox: starting %s: %w", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return done, nil
}
