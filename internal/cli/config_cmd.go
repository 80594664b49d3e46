package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// property is one setting of the configuration file, under gcloud's style of name.
type property struct {
	name    string // "core/project"
	aliases []string
	field   func(*Config) *string
	secret  bool
}

func properties() []property {
	return []property{
		{name: "core/project", aliases: []string{"project"}, field: func(c *Config) *string { return &c.Project }},
		{name: "meridian/api_endpoint", aliases: []string{"api_endpoint", "endpoint"}, field: func(c *Config) *string { return &c.Endpoint }},
		{name: "meridian/api_token", aliases: []string{"api_token", "token"}, field: func(c *Config) *string { return &c.Token }, secret: true},
	}
}

func findProperty(name string) (property, error) {
	for _, p := range properties() {
		if p.name == name || slices.Contains(p.aliases, name) {
			return p, nil
		}
	}
	return property{}, fmt.Errorf("Section [%s] has no property of that name; Meridian's properties are project, api_endpoint and api_token.", name)
}

// configCommand is `meridian config`: the properties of the configuration file, as
// `gcloud config` sets core/project.
func (a *app) configCommand() *cobra.Command {
	root := a.group("config", "View and edit the CLI's configuration (project, API endpoint, token).",
		a.configSetCommand(),
		a.configGetCommand(),
		a.configUnsetCommand(),
		a.configListCommand(),
	)
	a.setUpTree(root)
	return root
}

// configEdit builds set and unset, which change one property of the file.
func (a *app) configEdit(use, short, verb string, args cobra.PositionalArgs, value func(args []string) string) *cobra.Command {
	return a.localCommand(use, short, args, func(s *session, args []string) error {
		p, err := findProperty(args[0])
		if err != nil {
			return err
		}
		if err := UpdateConfig(a.env.ConfigPath, func(c *Config) { *p.field(c) = value(args) }); err != nil {
			return err
		}
		s.status("%s property [%s].", verb, p.name)
		return nil
	})
}

func (a *app) configSetCommand() *cobra.Command {
	return a.configEdit("set PROPERTY VALUE", "Set a property.", "Updated", exactArgs("PROPERTY", "VALUE"),
		func(args []string) string { return args[1] })
}

func (a *app) configUnsetCommand() *cobra.Command {
	return a.configEdit("unset PROPERTY", "Unset a property.", "Unset", exactArgs("PROPERTY"),
		func([]string) string { return "" })
}

func (a *app) configGetCommand() *cobra.Command {
	return a.localCommand("get-value PROPERTY", "Print the value of a property.", exactArgs("PROPERTY"), func(s *session, args []string) error {
		p, err := findProperty(args[0])
		if err != nil {
			return err
		}
		c, err := ReadConfig(a.env.ConfigPath)
		if err != nil {
			return err
		}
		if v := *p.field(&c); v != "" {
			fmt.Fprintln(s.stdout, v)
		} else {
			s.status("(unset)")
		}
		return nil
	})
}

func (a *app) configListCommand() *cobra.Command {
	return a.localCommand("list", "List the properties of the configuration file.", exactArgs(), func(s *session, _ []string) error {
		c, err := ReadConfig(a.env.ConfigPath)
		if err != nil {
			return err
		}
		section := ""
		for _, p := range properties() {
			v := *p.field(&c)
			if v == "" {
				continue
			}
			if p.secret {
				v = "(hidden)"
			}
			sec, key, _ := strings.Cut(p.name, "/")
			if sec != section {
				fmt.Fprintf(s.stdout, "[%s]\n", sec)
				section = sec
			}
			fmt.Fprintf(s.stdout, "%s = %s\n", key, v)
		}
		s.status("\nYour configuration file is [%s].", a.env.ConfigPath)
		return nil
	})
}
