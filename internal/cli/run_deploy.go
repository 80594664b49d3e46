package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"meridian/api"
)

// `run deploy`: create a service from flags, or change what the flags say in an
// existing service's template and put it back, then wait for it to be ready.

// limitArg is a number, or "default" to take the setting off and get the server's.
type limitArg struct {
	n         int64
	isDefault bool
}

func (l limitArg) String() string {
	if l.isDefault {
		return "default"
	}
	return strconv.FormatInt(l.n, 10)
}

// maxInstancesLimit bounds --min-instances and --max-instances.
const maxInstancesLimit = 1000000

// parseLimit parses "N" (min <= N <= max) or "default".
func parseLimit(s string, min, max int64, what string) (limitArg, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "default") {
		return limitArg{isDefault: true}, nil
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < min || n > max {
		return limitArg{}, fmt.Errorf("%s must be an integer from %d to %d, or default; not [%s]", what, min, max, s)
	}
	return limitArg{n: n}, nil
}

func parseConcurrency(s string) (limitArg, error) {
	return parseLimit(s, 1, 1000, "concurrency")
}

func parseInstances(s string) (limitArg, error) {
	return parseLimit(s, 0, maxInstancesLimit, "the number of instances")
}

// parseTimeout parses --timeout: seconds or a duration ("300", "5m", "1h"), from 1
// second to 1 hour.
func parseTimeout(s string) (int64, error) {
	n, err := parseDuration(s)
	if err != nil {
		return 0, err
	}
	if n < 1 || n > 3600 {
		return 0, fmt.Errorf("the timeout must be from 1 second to 1 hour (3600s), not [%s]", s)
	}
	return n, nil
}

func parsePort(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port [%s] must be an integer from 1 to 65535", s)
	}
	return n, nil
}

// reservedEnvNames are set by Cloud Run itself.
var reservedEnvNames = []string{"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}

// parseEnvVars parses --set-env-vars and --update-env-vars: "K1=V1,K2=V2" (or with a
// "^D^" delimiter prefix for values holding commas). A name given twice takes its last
// value.
func parseEnvVars(s string) ([]api.EnvVar, error) {
	kvs, err := parseKeyValues(s)
	if err != nil {
		return nil, err
	}
	var out []api.EnvVar
	for _, kv := range kvs {
		if slices.Contains(reservedEnvNames, kv.key) {
			return nil, fmt.Errorf("The following reserved env names were provided: %s. These values are automatically set by the system.", kv.key)
		}
		out = setEnvVar(out, api.EnvVar{Name: kv.key, Value: kv.value})
	}
	return out, nil
}

// setEnvVar replaces the variable of the same name in place, or appends it.
func setEnvVar(env []api.EnvVar, v api.EnvVar) []api.EnvVar {
	if i := slices.IndexFunc(env, func(e api.EnvVar) bool { return e.Name == v.Name }); i >= 0 {
		env[i] = v
		return env
	}
	return append(env, v)
}

var (
	memoryPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$`)
	cpuPattern    = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?|[0-9]+m)$`)
)

func parseMemory(s string) (string, error) {
	if !memoryPattern.MatchString(s) {
		return "", fmt.Errorf("memory [%s] must be a quantity such as 512Mi or 2Gi", s)
	}
	return s, nil
}

func parseCPU(s string) (string, error) {
	if !cpuPattern.MatchString(s) {
		return "", fmt.Errorf("cpu [%s] must be a number of CPUs such as 1, 2 or 0.5, or millicpus such as 500m", s)
	}
	return s, nil
}

// envValue is the flag type of --set-env-vars and --update-env-vars; repeating the
// flag adds to it.
type envValue struct {
	vars []api.EnvVar
	set  bool
}

func (v *envValue) Set(s string) error {
	vars, err := parseEnvVars(s)
	if err != nil {
		return err
	}
	for _, e := range vars {
		v.vars = setEnvVar(v.vars, e)
	}
	v.set = true
	return nil
}

func (v *envValue) String() string {
	parts := make([]string, len(v.vars))
	for i, e := range v.vars {
		parts[i] = e.Name + "=" + e.Value
	}
	return strings.Join(parts, ",")
}

func (v *envValue) Type() string { return "dict" }

// deployFlags are `run deploy`'s flags.
type deployFlags struct {
	image                      *optional[string]
	command, args              *listValue
	setEnv, updateEnv          *envValue
	removeEnv                  *listValue
	clearEnv                   bool
	port                       *optional[int64]
	useHTTP2                   *optionalBool
	concurrency                *optional[limitArg]
	minInstances, maxInstances *optional[limitArg]
	timeout                    *optional[int64]
	memory, cpu                *optional[string]
	serviceAccount             *optional[string]
	tag, revisionSuffix        *optional[string]
	noTraffic, async           bool
	allowUnauthenticated       *optionalBool // accepted for gcloud's scripts; Meridian has no IAM
}

func addDeployFlags(fs *pflag.FlagSet) *deployFlags {
	d := &deployFlags{setEnv: &envValue{}, updateEnv: &envValue{}}
	d.image = addString(fs, "image", "Container image to deploy, e.g. us-docker.pkg.dev/cloudrun/container/hello. Required to create a service.")
	d.command = addList(fs, "command", "Entrypoint of the container, replacing the image's; comma-separated. An empty value uses the image's.")
	d.args = addList(fs, "args", "Arguments passed to the command, comma-separated. An empty value removes them.")
	fs.Var(d.setEnv, "set-env-vars", "KEY=VALUE pairs that replace all environment variables.")
	fs.Var(d.updateEnv, "update-env-vars", "KEY=VALUE pairs to add or change among the environment variables.")
	d.removeEnv = addList(fs, "remove-env-vars", "Environment variables to remove.")
	fs.BoolVar(&d.clearEnv, "clear-env-vars", false, "Remove all environment variables.")
	d.port = addOptional(fs, "port", "int", "Port the container listens on; it gets it in $PORT (default 8080).", parsePort)
	d.useHTTP2 = addOptionalBool(fs, "use-http2", "Send requests to the container over HTTP/2 cleartext (h2c).")
	d.concurrency = addOptional(fs, "concurrency", "CONCURRENCY", "Maximum concurrent requests per instance, or default (80).", parseConcurrency)
	d.minInstances = addOptional(fs, "min-instances", "MIN_INSTANCES", "Minimum number of instances, or default (0).", parseInstances)
	d.maxInstances = addOptional(fs, "max-instances", "MAX_INSTANCES", "Maximum number of instances, or default.", parseInstances)
	d.timeout = addOptional(fs, "timeout", "TIMEOUT", "Request timeout: seconds or a duration such as 5m or 1h (at most 1h).", parseTimeout)
	d.memory = addOptional(fs, "memory", "MEMORY", "Memory limit of an instance, e.g. 512Mi or 2Gi.", parseMemory)
	d.cpu = addOptional(fs, "cpu", "CPU", "CPU limit of an instance, e.g. 1 or 500m.", parseCPU)
	d.serviceAccount = addString(fs, "service-account", "Service account the revision runs as (recorded, not enforced).")
	d.tag = addString(fs, "tag", "Tag for the new revision, which gets its own URL and no traffic of its own.")
	d.revisionSuffix = addString(fs, "revision-suffix", "Suffix of the new revision's name: the revision is named SERVICE-SUFFIX.")
	fs.BoolVar(&d.noTraffic, "no-traffic", false, "Send no traffic to the new revision: traffic that goes to the latest revision stays on the current one.")
	fs.BoolVar(&d.async, "async", false, "Return at once, without waiting for the service to be ready.")
	d.allowUnauthenticated = addOptionalBool(fs, "allow-unauthenticated", "Accepted for compatibility with gcloud; Meridian's services take every request.")
	return d
}

// check refuses flags that cannot go together.
func (d *deployFlags) check() error {
	if d.setEnv.set && (d.updateEnv.set || d.removeEnv.set || d.clearEnv) {
		return errors.New("argument --set-env-vars: At most one of --clear-env-vars | --set-env-vars | --remove-env-vars --update-env-vars may be specified.")
	}
	if d.clearEnv && (d.updateEnv.set || d.removeEnv.set) {
		return errors.New("argument --clear-env-vars: At most one of --clear-env-vars | --set-env-vars | --remove-env-vars --update-env-vars may be specified.")
	}
	if d.tag.set && !validKnativeName(d.tag.value) {
		return fmt.Errorf("argument --tag: Invalid tag [%s]: a tag is lowercase letters, digits and hyphens, starts with a letter and has at most 63 characters.", d.tag.value)
	}
	if d.revisionSuffix.set && d.revisionSuffix.value == "" {
		return errors.New("argument --revision-suffix: the suffix must not be empty.")
	}
	return nil
}

// editTemplate changes what the flags say in a revision template.
func (d *deployFlags) editTemplate(t *api.RevisionTemplate) {
	spec := &t.Spec
	if len(spec.Containers) == 0 {
		spec.Containers = []api.Container{{}}
	}
	c := &spec.Containers[0]
	d.image.apply(&c.Image)
	if d.command.set {
		c.Command = slices.Clone(d.command.items)
	}
	if d.args.set {
		c.Args = slices.Clone(d.args.items)
	}
	switch {
	case d.clearEnv:
		c.Env = nil
	case d.setEnv.set:
		c.Env = slices.Clone(d.setEnv.vars)
	}
	if d.removeEnv.set {
		c.Env = slices.DeleteFunc(c.Env, func(e api.EnvVar) bool { return slices.Contains(d.removeEnv.items, e.Name) })
	}
	for _, e := range d.updateEnv.vars {
		c.Env = setEnvVar(c.Env, e)
	}
	if len(c.Env) == 0 {
		c.Env = nil
	}
	if d.port.set || d.useHTTP2.set {
		if len(c.Ports) == 0 {
			c.Ports = []api.ContainerPort{{Name: "http1", ContainerPort: api.DefaultContainerPort}}
		}
		p := &c.Ports[0]
		d.port.apply(&p.ContainerPort)
		if d.useHTTP2.set {
			p.Name = "http1"
			if d.useHTTP2.value {
				p.Name = "h2c"
			}
		}
	}
	if d.concurrency.set {
		spec.ContainerConcurrency = nil
		if !d.concurrency.value.isDefault {
			n := d.concurrency.value.n
			spec.ContainerConcurrency = &n
		}
	}
	d.timeout.applyPtr(&spec.TimeoutSeconds)
	d.serviceAccount.apply(&spec.ServiceAccountName)
	if d.memory.set || d.cpu.set {
		if c.Resources == nil {
			c.Resources = &api.ResourceRequirements{}
		}
		if c.Resources.Limits == nil {
			c.Resources.Limits = map[string]string{}
		}
		if d.memory.set {
			c.Resources.Limits["memory"] = d.memory.value
		}
		if d.cpu.set {
			c.Resources.Limits["cpu"] = d.cpu.value
		}
	}
	for _, scale := range []struct {
		flag *optional[limitArg]
		key  string
	}{{d.minInstances, api.MinScaleAnnotation}, {d.maxInstances, api.MaxScaleAnnotation}} {
		if !scale.flag.set {
			continue
		}
		if scale.flag.value.isDefault {
			delete(t.Metadata.Annotations, scale.key)
			continue
		}
		if t.Metadata.Annotations == nil {
			t.Metadata.Annotations = map[string]string{}
		}
		t.Metadata.Annotations[scale.key] = strconv.FormatInt(scale.flag.value.n, 10)
	}
	if len(t.Metadata.Annotations) == 0 {
		t.Metadata.Annotations = nil
	}
}

// revisionName is the name the deploy gives its new revision: SERVICE-SUFFIX with
// --revision-suffix, a generated one when traffic must name it (--tag, --no-traffic),
// else "" (the server names it).
func (d *deployFlags) revisionName(service string, generation int64, letters func() string) (string, error) {
	switch {
	case d.revisionSuffix.set:
		name := service + "-" + d.revisionSuffix.value
		if !validKnativeName(name) {
			return "", fmt.Errorf("argument --revision-suffix: Invalid revision name [%s]: a revision name is lowercase letters, digits and hyphens, starts with a letter, ends with a letter or digit and has at most 63 characters.", name)
		}
		return name, nil
	case d.tag.set || d.noTraffic:
		return api.RevisionName(service, generation+1, letters()), nil
	}
	return "", nil
}

// randomLetters is the random part of a generated revision name: 3 lowercase letters.
func randomLetters() string {
	b := make([]byte, 3)
	for i := range b {
		b[i] = byte('a' + rand.IntN(26))
	}
	return string(b)
}

// prepare turns the service as read (or a new, empty one) into the one to write: the
// flags' template changes, the new revision's name, and the traffic changes of --tag
// and --no-traffic.
func (d *deployFlags) prepare(svc *api.KnativeService, letters func() string) error {
	before := copyTemplate(svc.Spec.Template)
	d.editTemplate(&svc.Spec.Template)
	t := &svc.Spec.Template
	revision, err := d.revisionName(svc.Metadata.Name, svc.Metadata.Generation, letters)
	if err != nil {
		return err
	}
	switch {
	case revision != "":
		t.Metadata.Name = revision
	case !sameTemplate(before, *t):
		// The template changes: the old revision name cannot be reused.
		t.Metadata.Name = ""
	}
	if d.tag.set || d.noTraffic {
		m := newTrafficModel(svc.Spec.Traffic)
		if d.noTraffic {
			latestReady := ""
			if svc.Status != nil {
				latestReady = svc.Status.LatestReadyRevisionName
			}
			if err := m.pinLatest(latestReady); err != nil {
				return err
			}
		}
		if d.tag.set {
			m.setTag(d.tag.value, revision)
		}
		svc.Spec.Traffic = m.targets()
	}
	svc.Status = nil
	return nil
}

// copyTemplate is a deep copy of a template.
func copyTemplate(t api.RevisionTemplate) api.RevisionTemplate {
	data, _ := json.Marshal(t)
	var c api.RevisionTemplate
	json.Unmarshal(data, &c)
	return c
}

// sameTemplate reports whether two templates make the same revision, apart from its
// name, once the server's defaults are applied.
func sameTemplate(a, b api.RevisionTemplate) bool {
	norm := func(t api.RevisionTemplate) string {
		c := copyTemplate(t) // so that the defaults do not touch t
		c.Metadata.Name = ""
		svc := api.KnativeService{Spec: api.ServiceSpec{Template: c}}
		svc.SetDefaults()
		out, _ := json.Marshal(svc.Spec.Template)
		return string(out)
	}
	return norm(a) == norm(b)
}

func (a *app) runDeployCommand() *cobra.Command {
	var f *runFlags
	var d *deployFlags
	cmd := a.command("deploy SERVICE", "Create or update a Cloud Run service from a container image.", exactArgs("SERVICE"), func(s *session, args []string) error {
		name := args[0]
		if err := d.check(); err != nil {
			return err
		}
		collection, err := f.servicesPath(s)
		if err != nil {
			return err
		}
		path := collection + "/" + joinPath(name)
		announced := false
		// Read, change, write; a write that lost a race with a status update (the
		// resourceVersion moved) starts over from a fresh read.
		for attempt := 0; ; attempt++ {
			err = func() error {
				var svc api.KnativeService
				err = s.get(path, &svc)
				create := isNotFound(err)
				if err != nil && !create {
					return err
				}
				if create {
					if !d.image.set || d.image.value == "" {
						return errors.New("Missing required argument [--image]: Requires a container image to deploy (e.g. `us-docker.pkg.dev/cloudrun/container/hello:latest`) when creating a service.")
					}
					if d.noTraffic {
						return errors.New("--no-traffic not supported when creating a new service.")
					}
					svc = api.KnativeService{APIVersion: api.KnativeAPIVersion, Kind: "Service", Metadata: api.ObjectMeta{Name: name, Namespace: s.project}}
				} else if d.image.set && d.image.value == "" {
					return errors.New("argument --image: the image must not be empty.")
				}
				if err := d.prepare(&svc, randomLetters); err != nil {
					return err
				}
				if !announced {
					s.status("Deploying container to Cloud Run service [%s] in project [%s] region [%s]", name, s.project, f.regionName())
					announced = true
				}
				if create {
					err = s.client.do(s.ctx, http.MethodPost, collection, &svc, nil)
				} else {
					err = s.client.do(s.ctx, http.MethodPut, path, &svc, nil)
				}
				return err
			}()
			if !hasReason(err, "conflict") || attempt == 4 {
				break
			}
		}
		if err != nil {
			return err
		}
		if d.async {
			s.status("Service [%s] is deploying asynchronously.", name)
			return nil
		}
		done, err := s.waitForService(path, name)
		if err != nil {
			return err
		}
		tag := ""
		if d.tag.set {
			tag = d.tag.value
		}
		for _, line := range deployedMessage(done, tag) {
			s.status("%s", line)
		}
		return nil
	})
	f = a.addRunFlags(cmd.Flags())
	d = addDeployFlags(cmd.Flags())
	return cmd
}

// deployedMessage is gcloud's report of a finished deploy: the revision, its share of
// the traffic, the service's URL when the revision serves some, and the tag's URL.
func deployedMessage(svc *api.KnativeService, tag string) []string {
	st := svc.Status
	if st == nil {
		st = &api.ServiceStatus{}
	}
	rev := firstNonEmpty(st.LatestReadyRevisionName, st.LatestCreatedRevisionName)
	percent := int64(0)
	if len(st.Traffic) > 0 {
		for _, t := range st.Traffic {
			if t.RevisionName == rev || (t.RevisionName == "" && t.LatestRevision != nil && *t.LatestRevision) {
				percent += t.Percent
			}
		}
	} else {
		for _, t := range api.ResolveTraffic(svc.Spec.Traffic, rev) {
			if t.Revision == rev {
				percent += t.Percent
			}
		}
	}
	lines := []string{fmt.Sprintf("Service [%s] revision [%s] has been deployed and is serving %d percent of traffic.", svc.Metadata.Name, rev, percent)}
	if percent > 0 && st.URL != "" {
		lines = append(lines, "Service URL: "+st.URL)
	}
	if tag != "" {
		for _, t := range st.Traffic {
			if t.Tag == tag && t.URL != "" {
				lines = append(lines, "The revision can be reached directly at "+t.URL)
				break
			}
		}
	}
	return lines
}

// How long a command waits for a service to be ready, and how often it looks.
const (
	serviceWaitTimeout = 5 * time.Minute
	serviceWaitPoll    = 250 * time.Millisecond
)

// waitForService reads the service until its status is about its latest spec and says
// Ready, True (it returns the service) or False (an error with the reason).
func (s *session) waitForService(path, name string) (*api.KnativeService, error) {
	ctx, cancel := context.WithTimeout(s.ctx, serviceWaitTimeout)
	defer cancel()
	last := ""
	for {
		var svc api.KnativeService
		err := s.client.do(ctx, http.MethodGet, path, nil, &svc)
		if err == nil {
			var done bool
			if done, err = serviceReady(&svc); done || err != nil {
				return &svc, err
			}
			if c := readyCondition(svc.Status); c != nil {
				last = c.Message
			}
			err = pause(ctx, serviceWaitPoll)
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && s.ctx.Err() == nil {
				msg := fmt.Sprintf("Timed out after %v waiting for service [%s] to become ready", serviceWaitTimeout, name)
				if last != "" {
					msg += ": " + last
				}
				return nil, errors.New(msg)
			}
			return nil, err
		}
	}
}

func readyCondition(st *api.ServiceStatus) *api.Condition {
	if st == nil {
		return nil
	}
	for i := range st.Conditions {
		if st.Conditions[i].Type == "Ready" {
			return &st.Conditions[i]
		}
	}
	return nil
}

// serviceReady reports whether the service's status is final for its generation: Ready
// True (done) or False (done, with the failure as the error).
func serviceReady(svc *api.KnativeService) (bool, error) {
	st := svc.Status
	if st == nil || st.ObservedGeneration < svc.Metadata.Generation {
		return false, nil
	}
	c := readyCondition(st)
	if c == nil {
		return false, nil
	}
	switch c.Status {
	case "True":
		return true, nil
	case "False":
		msg := firstNonEmpty(c.Message, c.Reason, "the service is not ready")
		if rev := st.LatestCreatedRevisionName; rev != "" && rev != st.LatestReadyRevisionName {
			return true, fmt.Errorf("Revision [%s] failed: %s", rev, msg)
		}
		return true, errors.New(msg)
	}
	return false, nil
}
