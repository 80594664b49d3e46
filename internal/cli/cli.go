package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Env is the outside world of the commands: standard streams, the environment and
// where the configuration file lives. A zero Env uses the process's own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable; nil means os.Getenv.
	Getenv func(string) string
	// ConfigPath is the configuration file; empty means DefaultConfigPath(Getenv).
	ConfigPath string
	// HTTPClient talks to the API; nil means a client without an overall timeout,
	// because operations.wait long-polls.
	HTTPClient *http.Client
}

func (e Env) withDefaults() Env {
	if e.Stdin == nil {
		e.Stdin = os.Stdin
	}
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.ConfigPath == "" {
		e.ConfigPath = DefaultConfigPath(e.Getenv)
	}
	if e.HTTPClient == nil {
		e.HTTPClient = &http.Client{}
	}
	return e
}

// NewCommands returns the `compute`, `run` and `config` command trees, ready to be
// added to the root command. Each call builds new trees; they share nothing with
// earlier ones.
func NewCommands(env Env) []*cobra.Command {
	a := &app{env: env.withDefaults(), flags: &globalFlags{}}
	return []*cobra.Command{a.computeCommand(), a.runCommand(), a.configCommand(), a.gcloudConfigCommand(), a.caCertCommand()}
}

// app builds commands bound to one Env and one set of global flags.
type app struct {
	env   Env
	flags *globalFlags
}

// globalFlags are gcloud's flags that every command accepts.
type globalFlags struct {
	project   string
	endpoint  string
	format    string
	verbosity string // accepted for compatibility, not used
	quiet     bool
}

// addGlobalFlags registers the global flags on the root of a tree, for all its
// commands.
func (a *app) addGlobalFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&a.flags.project, "project", "", "project to use (default: $MERIDIAN_PROJECT, $CLOUDSDK_CORE_PROJECT, the configuration's project, or \"default\")")
	f.StringVar(&a.flags.endpoint, "api-endpoint", "", "URL of Meridian's API (default: $MERIDIAN_API_ENDPOINT, the configuration's endpoint, or "+DefaultEndpoint+")")
	f.StringVar(&a.flags.format, "format", "", "gcloud output format, e.g. yaml, json, value(address), table(name,protocol)")
	f.StringVar(&a.flags.verbosity, "verbosity", "warning", "accepted for compatibility with gcloud; ignored")
	f.BoolVarP(&a.flags.quiet, "quiet", "q", false, "disable interactive prompts and take their default answers")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError(cmd, err.Error())
	})
}

// group makes a command that only holds subcommands. Like gcloud, it refuses to run
// without one and names an unknown one.
func (a *app) group(name, short string, subcommands ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError(cmd, fmt.Sprintf("Invalid choice: '%s'.", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError(cmd, "Command name argument expected.")
		},
	}
	cmd.AddCommand(subcommands...)
	return cmd
}

// runFunc is the body of a command: it gets a session and the positional arguments.
type runFunc func(s *session, args []string) error

// command makes a leaf command that talks to the API. args checks the positional
// arguments (see exactArgs and friends); run gets a session with the resolved
// configuration.
func (a *app) command(use, short string, args cobra.PositionalArgs, run runFunc) *cobra.Command {
	return a.leaf(use, short, args, run, a.newSession)
}

// localCommand makes a leaf command that only works on this machine (the
// configuration file), so a broken configuration does not stop it.
func (a *app) localCommand(use, short string, args cobra.PositionalArgs, run runFunc) *cobra.Command {
	return a.leaf(use, short, args, run, a.localSession)
}

func (a *app) leaf(use, short string, args cobra.PositionalArgs, run runFunc, newSession func(*cobra.Command) (*session, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, positional []string) error {
			s, err := newSession(cmd)
			if err == nil {
				err = run(s, positional)
			}
			if err != nil {
				return reportError(cmd, err)
			}
			return nil
		},
	}
}

// reportError prints err the way gcloud does, "ERROR: (meridian.compute.x.create) …",
// and marks the command so that cobra does not print it again.
func reportError(cmd *cobra.Command, err error) error {
	if errors.Is(err, context.Canceled) {
		err = errors.New("Aborted by user.")
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "ERROR: (%s) %s\n", commandID(cmd), errorText(err))
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return err
}

// usageError reports a mistake in the command line, with the usage line and where to
// find help, as gcloud does for argument errors.
func usageError(cmd *cobra.Command, msg string) error {
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "ERROR: (%s) %s\n", commandID(cmd), msg)
	fmt.Fprintf(w, "Usage: %s\n\nFor detailed information on this command and its flags, run:\n  %s --help\n", cmd.UseLine(), cmd.CommandPath())
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return errors.New(msg)
}

// commandID is gcloud's dotted command name: "meridian.compute.addresses.create".
func commandID(cmd *cobra.Command) string {
	return strings.ReplaceAll(cmd.CommandPath(), " ", ".")
}

// errorText renders an error for the ERROR line. Compute API errors read as gcloud's
// "Could not fetch resource:" list.
func errorText(err error) string {
	var ae *apiError
	var oe *operationError
	switch {
	case errors.As(err, &oe):
		return "Could not fetch resource:\n - " + strings.Join(oe.messages(), "\n - ")
	case errors.As(err, &ae) && ae.compute:
		return "Could not fetch resource:\n - " + ae.Message
	}
	return err.Error()
}

// Positional argument checks with gcloud's messages.

// exactArgs requires one argument per name, e.g. exactArgs("NAME").
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return usageError(cmd, fmt.Sprintf("argument %s: Must be specified.", names[len(args)]))
		}
		if len(args) > len(names) {
			return usageError(cmd, "unrecognized arguments: "+strings.Join(args[len(names):], " "))
		}
		return nil
	}
}

// someArgs requires at least one argument, as gcloud's "NAME [NAME …]".
func someArgs(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageError(cmd, fmt.Sprintf("argument %s: Must be specified.", name))
		}
		return nil
	}
}

// anyArgs accepts any number of arguments (list's NAME filters).
func anyArgs(*cobra.Command, []string) error { return nil }
