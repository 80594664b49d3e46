package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"meridian/api"
)

func urlMapType() *resourceType {
	return &resourceType{
		collection: "urlMaps", noun: "URL map", plural: "URL maps", regional: true, globalByDefault: true,
		listFormat: "table(name, defaultService.scoped_suffixes():label=DEFAULT_SERVICE)",
	}
}

// urlMapsCommand is `compute url-maps`.
func (a *app) urlMapsCommand() *cobra.Command {
	rt := urlMapType()
	return a.group("url-maps", "List, create, and delete URL maps.",
		a.urlMapAddHostRuleCommand(rt),
		a.urlMapAddPathMatcherCommand(rt),
		a.urlMapCreateCommand(rt),
		a.deleteCommand(rt),
		a.describeCommand(rt),
		a.urlMapExportCommand(rt),
		a.urlMapImportCommand(rt),
		a.urlMapInvalidateCommand(rt),
		a.listCommand(rt),
		a.urlMapRemoveHostRuleCommand(rt),
		a.urlMapRemovePathMatcherCommand(rt),
		a.urlMapSetDefaultServiceCommand(rt),
		a.urlMapValidateCommand(rt),
	)
}

// defaultServiceFlags are --default-service and --default-backend-bucket; Meridian has
// no backend buckets, so the latter is refused with a clear message.
type defaultServiceFlags struct {
	service, bucket *optional[string]
}

func addDefaultServiceFlags(fs *pflag.FlagSet, what string) *defaultServiceFlags {
	return &defaultServiceFlags{
		service: addString(fs, "default-service", "Backend service that "+what+" sends requests to when nothing else matches."),
		bucket:  addString(fs, "default-backend-bucket", "Backend bucket (not supported by Meridian)."),
	}
}

// ref is the reference to the default service.
func (f *defaultServiceFlags) ref(project string) (string, error) {
	switch {
	case f.bucket.set:
		return "", errors.New("Meridian has no backend buckets: use --default-service with a backend service.")
	case !f.service.set:
		return "", errors.New("Exactly one of (--default-backend-bucket | --default-service) must be specified.")
	}
	return resourceRef(project, location{}, "backendServices", f.service.value), nil
}

func (a *app) urlMapCreateCommand(rt *resourceType) *cobra.Command {
	var def *defaultServiceFlags
	var description *optional[string]
	cmd := a.resourceCommand(rt, "create", "Create a URL map.", "create", func(s *session, t target) error {
		service, err := def.ref(t.project)
		if err != nil {
			return err
		}
		um := api.UrlMap{Meta: api.Meta{Name: t.name}, DefaultService: service}
		description.apply(&um.Description)
		return s.insert(rt, t.loc, &um, t.name)
	})
	def = addDefaultServiceFlags(cmd.Flags(), "the URL map")
	description = addString(cmd.Flags(), "description", "An optional, textual description for the URL map.")
	return cmd
}

// urlMapEditCommand builds the commands that read a URL map, change it and write it
// back; edit gets the command's project.
func (a *app) urlMapEditCommand(rt *resourceType, use, short string, addFlags func(*pflag.FlagSet),
	edit func(um *api.UrlMap, project string) error) *cobra.Command {
	cmd := a.resourceCommand(rt, use, short, "update", func(s *session, t target) error {
		return readModifyWrite(s, t.path(rt.collection), func(um *api.UrlMap) error { return edit(um, t.project) })
	})
	addFlags(cmd.Flags())
	return cmd
}

func (a *app) urlMapSetDefaultServiceCommand(rt *resourceType) *cobra.Command {
	var def *defaultServiceFlags
	return a.urlMapEditCommand(rt, "set-default-service", "Change the default service of a URL map.",
		func(fs *pflag.FlagSet) { def = addDefaultServiceFlags(fs, "the URL map") },
		func(um *api.UrlMap, project string) error {
			service, err := def.ref(project)
			um.DefaultService, um.DefaultURLRedirect = service, nil
			return err
		})
}

func (a *app) urlMapAddHostRuleCommand(rt *resourceType) *cobra.Command {
	var hosts *listValue
	var matcher, description *optional[string]
	return a.urlMapEditCommand(rt, "add-host-rule", "Add a host rule to a URL map.",
		func(fs *pflag.FlagSet) {
			hosts = addList(fs, "hosts", "Hosts the rule matches, e.g. example.com,*.example.com.")
			matcher = addString(fs, "path-matcher-name", "Path matcher the matching requests go to.")
			description = addString(fs, "description", "An optional, textual description for the host rule.")
		},
		func(um *api.UrlMap, _ string) error {
			if len(hosts.items) == 0 || !matcher.set {
				return errors.New("argument --hosts and --path-matcher-name: Must be specified.")
			}
			um.HostRules = append(um.HostRules, api.HostRule{Hosts: hosts.items, PathMatcher: matcher.value, Description: description.value})
			return nil
		})
}

// pathMatcherFlags are the flags of add-path-matcher.
type pathMatcherFlags struct {
	name, description, existingHost *optional[string]
	def                             *defaultServiceFlags
	pathRules                       *repeated
	newHosts                        *listValue
	deleteOrphaned                  bool
}

func (a *app) urlMapAddPathMatcherCommand(rt *resourceType) *cobra.Command {
	f := &pathMatcherFlags{}
	return a.urlMapEditCommand(rt, "add-path-matcher", "Add a path matcher to a URL map.",
		func(fs *pflag.FlagSet) {
			f.name = addString(fs, "path-matcher-name", "Name of the new path matcher.")
			f.description = addString(fs, "description", "An optional, textual description for the path matcher.")
			f.def = addDefaultServiceFlags(fs, "the path matcher")
			f.pathRules = addRepeated(fs, "path-rules", `Path rules, "PATH=SERVICE,…", e.g. "/video/*=video-service,/images=images-service".`)
			f.newHosts = addList(fs, "new-hosts", "Hosts of a new host rule that uses the path matcher.")
			f.existingHost = addString(fs, "existing-host", "Host of an existing host rule to point at the path matcher instead.")
			fs.BoolVar(&f.deleteOrphaned, "delete-orphaned-path-matcher", false, "Delete the path matcher --existing-host used, if nothing else uses it.")
		},
		func(um *api.UrlMap, project string) error { return f.addPathMatcher(um, project) })
}

func (f *pathMatcherFlags) addPathMatcher(um *api.UrlMap, project string) error {
	if !f.name.set {
		return errors.New("argument --path-matcher-name: Must be specified.")
	}
	if f.newHosts.set == f.existingHost.set {
		return errors.New("Exactly one of (--existing-host | --new-hosts) must be specified.")
	}
	service, err := f.def.ref(project)
	if err != nil {
		return err
	}
	pm := api.PathMatcher{Name: f.name.value, Description: f.description.value, DefaultService: service}
	var rules []pathRuleArg
	for _, spec := range f.pathRules.items {
		more, err := parsePathRules(spec)
		if err != nil {
			return fmt.Errorf("argument --path-rules: %v.", err)
		}
		rules = append(rules, more...)
	}
	pm.PathRules = groupPathRules(rules, project)
	if f.newHosts.set {
		if err := addHostRule(um, f.newHosts.items, pm.Name); err != nil {
			return err
		}
	} else if err := f.repointHostRule(um, pm.Name); err != nil {
		return err
	}
	um.PathMatchers = append(um.PathMatchers, pm)
	return nil
}

// groupPathRules makes one path rule per service, with its paths sorted, as gcloud does.
func groupPathRules(rules []pathRuleArg, project string) []api.PathRule {
	byService := map[string][]string{}
	for _, r := range rules {
		byService[r.service] = append(byService[r.service], r.path)
	}
	services := make([]string, 0, len(byService))
	for s := range byService {
		services = append(services, s)
	}
	sort.Strings(services)
	var out []api.PathRule
	for _, s := range services {
		paths := byService[s]
		sort.Strings(paths)
		out = append(out, api.PathRule{Paths: paths, Service: resourceRef(project, location{}, "backendServices", s)})
	}
	return out
}

func addHostRule(um *api.UrlMap, hosts []string, matcher string) error {
	for _, h := range hosts {
		if i := hostRuleWith(um, h); i >= 0 {
			return fmt.Errorf("Cannot create a new host rule with host [%s] because the host is already part of a host rule that references the path matcher [%s].", h, um.HostRules[i].PathMatcher)
		}
	}
	um.HostRules = append(um.HostRules, api.HostRule{Hosts: hosts, PathMatcher: matcher})
	return nil
}

// repointHostRule points the host rule of --existing-host at the new matcher; the
// matcher it used must then be used elsewhere or deleted on request.
func (f *pathMatcherFlags) repointHostRule(um *api.UrlMap, matcher string) error {
	i := hostRuleWith(um, f.existingHost.value)
	if i < 0 {
		return fmt.Errorf("No host rule with host [%s] exists. Check your spelling or use [--new-hosts] to create a new host rule.", f.existingHost.value)
	}
	old := um.HostRules[i].PathMatcher
	um.HostRules[i].PathMatcher = matcher
	return dropOrphanedMatcher(um, old, f.deleteOrphaned)
}

// dropOrphanedMatcher deletes the path matcher named old if no host rule uses it any
// more and the user allowed it; without permission that is an error, as in gcloud.
func dropOrphanedMatcher(um *api.UrlMap, old string, allowed bool) error {
	for _, r := range um.HostRules {
		if r.PathMatcher == old {
			return nil
		}
	}
	if !allowed {
		return fmt.Errorf("This operation will orphan the path matcher [%s]. To delete the orphan path matcher, rerun this command with [--delete-orphaned-path-matcher].", old)
	}
	um.PathMatchers = slices.DeleteFunc(um.PathMatchers, func(pm api.PathMatcher) bool { return pm.Name == old })
	return nil
}

// hostRuleWith returns the index of the host rule listing host, or -1.
func hostRuleWith(um *api.UrlMap, host string) int {
	return slices.IndexFunc(um.HostRules, func(r api.HostRule) bool { return slices.Contains(r.Hosts, host) })
}

func (a *app) urlMapRemovePathMatcherCommand(rt *resourceType) *cobra.Command {
	var name *optional[string]
	return a.urlMapEditCommand(rt, "remove-path-matcher", "Remove a path matcher, and the host rules that use it, from a URL map.",
		func(fs *pflag.FlagSet) {
			name = addString(fs, "path-matcher-name", "Name of the path matcher to remove.")
		},
		func(um *api.UrlMap, _ string) error {
			if !name.set {
				return errors.New("argument --path-matcher-name: Must be specified.")
			}
			n := len(um.PathMatchers)
			um.PathMatchers = slices.DeleteFunc(um.PathMatchers, func(pm api.PathMatcher) bool { return pm.Name == name.value })
			if len(um.PathMatchers) == n {
				return fmt.Errorf("No path matcher with the name [%s] was found.", name.value)
			}
			um.HostRules = slices.DeleteFunc(um.HostRules, func(r api.HostRule) bool { return r.PathMatcher == name.value })
			return nil
		})
}

func (a *app) urlMapRemoveHostRuleCommand(rt *resourceType) *cobra.Command {
	var host *optional[string]
	var deleteOrphaned bool
	return a.urlMapEditCommand(rt, "remove-host-rule", "Remove the host rule of a host from a URL map.",
		func(fs *pflag.FlagSet) {
			host = addString(fs, "host", "A host of the host rule to remove.")
			fs.BoolVar(&deleteOrphaned, "delete-orphaned-path-matcher", false, "Delete the path matcher the rule used, if nothing else uses it.")
		},
		func(um *api.UrlMap, _ string) error {
			if !host.set {
				return errors.New("argument --host: Must be specified.")
			}
			i := hostRuleWith(um, host.value)
			if i < 0 {
				return fmt.Errorf("No host rule contains the host [%s].", host.value)
			}
			old := um.HostRules[i].PathMatcher
			um.HostRules = slices.Delete(um.HostRules, i, i+1)
			return dropOrphanedMatcher(um, old, deleteOrphaned)
		})
}

// readDocument reads a YAML or JSON document from a file, or from stdin for "-" or "".
func (s *session) readDocument(path string) (map[string]any, error) {
	var data []byte
	var err error
	if path == "" || path == "-" {
		data, err = io.ReadAll(s.stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("Unable to read [%s]: %v", path, err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("[%s] is not valid YAML or JSON: %v", path, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("[%s] is empty", path)
	}
	return doc, nil
}

func (a *app) urlMapValidateCommand(rt *resourceType) *cobra.Command {
	var scope *scopeFlags
	var source, scheme *optional[string]
	cmd := a.command("validate", "Validate a URL map file without changing anything.", exactArgs(), func(s *session, _ []string) error {
		if !source.set {
			return errors.New("argument --source: Must be specified.")
		}
		doc, err := s.readDocument(source.value)
		if err != nil {
			return err
		}
		name, _ := doc["name"].(string)
		if name == "" {
			return fmt.Errorf("The URL map in [%s] has no name.", source.value)
		}
		loc, err := scope.resolve([]string{name})
		if err != nil {
			return err
		}
		body := map[string]any{"resource": doc}
		if scheme.set {
			body["loadBalancingSchemes"] = []string{scheme.value}
		}
		var result any
		if err := s.client.do(s.ctx, http.MethodPost, computePath(s.project, loc, rt.collection, name, "validate"), body, &result); err != nil {
			return err
		}
		return s.show("yaml", []any{result}, true)
	})
	scope = addScopeFlags(cmd, rt, "validate")
	source = addString(cmd.Flags(), "source", "YAML or JSON file of the URL map.")
	scheme = addEnum(cmd.Flags(), "load-balancing-scheme", "Load balancer to validate the URL map for.", "EXTERNAL", "EXTERNAL_MANAGED", "INTERNAL_SELF_MANAGED")
	return cmd
}

// exportOmitted are the output-only fields export leaves out, so that the file can be
// imported again.
func exportOmitted() []string {
	return []string{"kind", "id", "creationTimestamp", "selfLink", "fingerprint", "region"}
}

func (a *app) urlMapExportCommand(rt *resourceType) *cobra.Command {
	var destination *optional[string]
	cmd := a.resourceCommand(rt, "export", "Export a URL map to a YAML file.", "export", func(s *session, t target) error {
		var doc map[string]any
		if err := s.get(t.path(rt.collection), &doc); err != nil {
			return err
		}
		for _, k := range exportOmitted() {
			delete(doc, k)
		}
		data, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		if !destination.set || destination.value == "-" {
			_, err = s.stdout.Write(data)
			return err
		}
		return os.WriteFile(destination.value, data, 0o644)
	})
	destination = addString(cmd.Flags(), "destination", "File to write; default standard output.")
	return cmd
}

func (a *app) urlMapImportCommand(rt *resourceType) *cobra.Command {
	var source *optional[string]
	cmd := a.resourceCommand(rt, "import", "Create or replace a URL map from a YAML file.", "import", func(s *session, t target) error {
		doc, err := s.readDocument(source.value)
		if err != nil {
			return err
		}
		for _, k := range exportOmitted() {
			delete(doc, k)
		}
		doc["name"] = t.name
		var cur map[string]any
		err = s.get(t.path(rt.collection), &cur)
		if isNotFound(err) {
			return s.insert(rt, t.loc, doc, t.name)
		}
		if err != nil {
			return err
		}
		if err := s.confirm(fmt.Sprintf("Url Map [%s] will be overwritten.", t.name), "Import aborted by user."); err != nil {
			return err
		}
		doc["fingerprint"] = cur["fingerprint"]
		op, err := s.client.mutate(s.ctx, http.MethodPut, t.path(rt.collection), doc)
		if err != nil {
			return err
		}
		s.status("Updated [%s].", op.TargetLink)
		return nil
	})
	source = addString(cmd.Flags(), "source", "YAML or JSON file of the URL map; default standard input.")
	return cmd
}

func (a *app) urlMapInvalidateCommand(rt *resourceType) *cobra.Command {
	var path, host *optional[string]
	var tags *listValue
	var async, soft bool
	cmd := a.resourceCommand(rt, "invalidate-cdn-cache", "Invalidate cached content of a URL map in Cloud CDN caches.", "invalidate", func(s *session, t target) error {
		if !path.set && !tags.set {
			return errors.New("argument --path: Must be specified.")
		}
		rule := api.CacheInvalidationRule{Path: path.value, Host: host.value, CacheTags: tags.items, Soft: soft}
		op := &api.Operation{}
		if err := s.client.do(s.ctx, http.MethodPost, t.path(rt.collection, "invalidateCache"), rule, op); err != nil {
			return err
		}
		if async {
			s.status("Invalidation pending for [%s]", op.TargetLink)
			s.status("Monitor its progress at [%s]", op.SelfLink)
			return nil
		}
		_, err := s.client.wait(s.ctx, op)
		return err
	})
	f := cmd.Flags()
	path = addString(f, "path", `Path to invalidate, e.g. /images/logo.png or /images/* for a prefix.`)
	host = addString(f, "host", "Only invalidate content of this host.")
	tags = addList(f, "tags", "Cache tags to invalidate (at most 10).")
	f.BoolVar(&async, "async", false, "Return at once, without waiting for the invalidation to finish.")
	f.BoolVar(&soft, "soft", false, "Mark matching content stale, to be revalidated with the origin, instead of removing it (Meridian's, beyond Cloud CDN).")
	return cmd
}
