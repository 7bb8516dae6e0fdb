package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reef-dev/reef/internal/apk"
)

func newKeygenCmd() *cobra.Command {
	var bits int
	cmd := &cobra.Command{
		Use:   "keygen NAME",
		Short: "Generate an RSA signing key pair: NAME.rsa and NAME.rsa.pub",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			priv, pub, err := apk.GenerateKeyPair(args[0], bits)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", priv, pub)
			return nil
		},
	}
	cmd.Flags().IntVar(&bits, "key-size", 4096, "RSA key size in bits")
	return cmd
}
