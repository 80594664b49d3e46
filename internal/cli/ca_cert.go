package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// caCertCommand is `meridian ca-cert`: the root of the development CA that issues
// MANAGED certificates, as the API serves it (from whatever host the API runs on), or
// from a data directory of `meridian serve` without asking the API.
func (a *app) caCertCommand() *cobra.Command {
	var dataDir string
	cmd := a.leaf("ca-cert", "Print the root of the development CA that issues MANAGED certificates", exactArgs(),
		func(s *session, _ []string) error {
			if dataDir != "" {
				// Where certs.CAPath puts it (this package stays free of the server's).
				pem, err := os.ReadFile(filepath.Join(dataDir, "dev-ca", "ca.pem"))
				if err != nil {
					return fmt.Errorf("no development CA in %s (meridian serve writes it there once it runs): %w", dataDir, err)
				}
				_, err = s.stdout.Write(pem)
				return err
			}
			pem, err := s.client.send(s.ctx, "GET", "meridian/v1/ca.pem", nil)
			if err != nil {
				return err
			}
			_, err = s.stdout.Write(pem)
			return err
		},
		func(cmd *cobra.Command) (*session, error) {
			if dataDir != "" {
				return a.localSession(cmd)
			}
			return a.newSession(cmd)
		})
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "read it from this data directory of meridian serve instead of asking the API")
	return cmd
}
