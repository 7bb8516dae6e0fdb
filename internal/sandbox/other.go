//go:build !linux

package sandbox

import (
	"context"
	"errors"
)

var errNotLinux = errors.New("sandbox: build steps run in bubblewrap, which needs Linux")

// Bwrap is a Sandbox made with bubblewrap; on this system it cannot be made.
type Bwrap struct{}

var _ Sandbox = (*Bwrap)(nil)

// New returns an error: bubblewrap needs Linux.
func New(cfg Config) (*Bwrap, error) { return nil, errNotLinux }

// PrepareArch returns an error: binfmt_misc needs Linux.
func PrepareArch(arch string) error { return errNotLinux }

// RootMode returns RootAuto.
func (b *Bwrap) RootMode() RootMode { return RootAuto }

// Arch returns "".
func (b *Bwrap) Arch() string { return "" }

// Run returns an error.
func (b *Bwrap) Run(ctx context.Context, step Step) error { return errNotLinux }

// Shell returns an error.
func (b *Bwrap) Shell(ctx context.Context, step Step) error { return errNotLinux }

// Close does nothing.
func (b *Bwrap) Close() error { return nil }
