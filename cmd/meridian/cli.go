package main

import (
	"github.com/spf13/cobra"

	"meridian/internal/cli"
)

// addCLICommands adds the gcloud-grammar command trees (compute, run, config).
func addCLICommands(root *cobra.Command) {
	root.AddCommand(cli.NewCommands(cli.Env{})...)
}

// rememberEndpoint writes the API's URL to the CLI's configuration so that
// `meridian compute …` finds the server without flags. The project is written when
// --project was given, or when the file names none; a token in the file is kept.
func rememberEndpoint(url, project string) error {
	return cli.UpdateConfig(cli.DefaultConfigPath(nil), func(c *cli.Config) {
		c.Endpoint = url
		if project != "" || c.Project == "" {
			c.Project = project
		}
		if c.Project == "" {
			c.Project = cli.DefaultProject
		}
	})
}
