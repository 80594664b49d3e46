package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"meridian/api"
)

// session is what one running command works with: the resolved configuration, the
// API client and the output streams.
type session struct {
	ctx     context.Context
	cmd     *cobra.Command
	client  *client
	project string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	format  string // the user's --format; empty means the command's default
	quiet   bool
}

func (a *app) newSession(cmd *cobra.Command) (*session, error) {
	st, err := a.resolveSettings()
	if err != nil {
		return nil, err
	}
	if !validProjectID(st.project) {
		return nil, fmt.Errorf("Invalid project [%s]: a project ID is lowercase letters, digits and hyphens.", st.project)
	}
	s, _ := a.localSession(cmd)
	s.client = &client{endpoint: strings.TrimSuffix(st.endpoint, "/"), token: st.token, http: a.env.HTTPClient}
	s.project = st.project
	return s, nil
}

// localSession is a session without the API: streams and flags only.
func (a *app) localSession(cmd *cobra.Command) (*session, error) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return &session{
		ctx:    ctx,
		cmd:    cmd,
		stdin:  a.env.Stdin,
		stdout: a.env.Stdout,
		stderr: a.env.Stderr,
		format: a.flags.format,
		quiet:  a.flags.quiet,
	}, nil
}

// validProjectID accepts GCP's project IDs ("my-project-123") and domain-scoped ones
// ("example.com:my-project"): lowercase letters, digits, hyphens, dots and colons.
func validProjectID(p string) bool {
	if p == "" || len(p) > 100 {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// flagsGiven reports whether any of the command's own flags, other than those named,
// was given: an update given none would change nothing.
func (s *session) flagsGiven(except ...string) bool {
	given := false
	s.cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		given = given || (f.Changed && !slices.Contains(except, f.Name))
	})
	return given
}

// get reads a resource (or anything the API answers a GET with) into out.
func (s *session) get(path string, out any) error {
	return s.client.do(s.ctx, http.MethodGet, path, nil, out)
}

// show prints items with the user's --format, else with def.
func (s *session) show(def string, items []any, single bool) error {
	expr := s.format
	if expr == "" {
		expr = def
	}
	return render(s.stdout, expr, items, single)
}

// status prints a line for the user on stderr, where gcloud writes its status
// messages, so that stdout holds only the command's output.
func (s *session) status(format string, args ...any) {
	fmt.Fprintf(s.stderr, format+"\n", args...)
}

// confirm asks gcloud's question "Do you want to continue (Y/n)?". With --quiet it
// asks nothing; without a terminal it prints the question and takes the default
// answer, yes, as gcloud does.
func (s *session) confirm(message, refusal string) error {
	if s.quiet {
		return nil
	}
	fmt.Fprintf(s.stderr, "%s\n\nDo you want to continue (Y/n)?  ", message)
	if !isTerminal(s.stdin) {
		fmt.Fprintln(s.stderr)
		return nil
	}
	line, err := bufio.NewReader(s.stdin).ReadString('\n')
	if errors.Is(err, io.EOF) {
		fmt.Fprintln(s.stderr) // nothing was typed, so nothing ended the line
	} else if err != nil {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "", "y", "yes":
		return nil
	}
	return errors.New(refusal)
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// location is where a Compute resource lives: a region, or global when region is "".
type location struct {
	region string
}

func (l location) isGlobal() bool { return l.region == "" }

// scopeSegments are the path segments of a location: ["global"] or ["regions", r].
func (l location) scopeSegments() []string {
	if l.isGlobal() {
		return []string{"global"}
	}
	return []string{"regions", l.region}
}

// computePath builds "compute/v1/projects/{p}/{global|regions/r}/{rest…}" with every
// segment escaped.
func computePath(project string, loc location, rest ...string) string {
	segments := append([]string{"compute", "v1", "projects", project}, loc.scopeSegments()...)
	return joinPath(append(segments, rest...)...)
}

func joinPath(segments ...string) string {
	escaped := make([]string, len(segments))
	for i, s := range segments {
		escaped[i] = url.PathEscape(s)
	}
	return strings.Join(escaped, "/")
}

// resourceRef is the reference to send in a request body: the relative path
// "projects/{p}/global/{collection}/{name}", or what the user gave if it is already a
// URL or a path.
func resourceRef(project string, loc location, collection, nameOrURL string) string {
	if strings.Contains(nameOrURL, "/") {
		return nameOrURL
	}
	return api.ResourcePath{Project: project, Region: loc.region, Collection: collection, Name: nameOrURL}.String()
}

// target is one resource a command names.
type target struct {
	project string
	loc     location
	name    string
}

// path is the API path of the target in collection, with optional trailing segments
// (an action).
func (t target) path(collection string, rest ...string) string {
	return computePath(t.project, t.loc, append([]string{collection, t.name}, rest...)...)
}

// String names the target in messages as gcloud does: "[name]" or "[name] in [region]".
func (t target) String() string {
	if t.loc.isGlobal() {
		return "[" + t.name + "]"
	}
	return "[" + t.name + "] in [" + t.loc.region + "]"
}

// targets resolves resource arguments: names take their scope from the flags, URLs
// and paths carry their own project and scope.
func (s *session) targets(scope *scopeFlags, names []string) ([]target, error) {
	var plain []string
	for _, n := range names {
		if !strings.Contains(n, "/") {
			plain = append(plain, n)
		}
	}
	var loc location
	if len(plain) > 0 {
		var err error
		if loc, err = scope.resolve(plain); err != nil {
			return nil, err
		}
	}
	out := make([]target, 0, len(names))
	for _, n := range names {
		if !strings.Contains(n, "/") {
			out = append(out, target{project: s.project, loc: loc, name: n})
			continue
		}
		p, err := api.ParseResourcePath(n, s.project)
		if err != nil || p.Collection != scope.rt.collection {
			return nil, fmt.Errorf("Could not parse resource [%s]: expected a %s name or URL.", n, scope.rt.noun)
		}
		out = append(out, target{project: p.Project, loc: location{region: p.Region}, name: p.Name})
	}
	return out, nil
}

// target resolves one resource argument.
func (s *session) target(scope *scopeFlags, name string) (target, error) {
	ts, err := s.targets(scope, []string{name})
	if err != nil {
		return target{}, err
	}
	return ts[0], nil
}
