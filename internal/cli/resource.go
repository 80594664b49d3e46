package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"meridian/api"
)

// resourceType describes one Compute collection as the CLI presents it. The commands
// that are the same for every collection (describe, list, delete) are built from it.
type resourceType struct {
	collection string // in API paths: "backendServices"
	noun       string // in messages: "backend service"
	plural     string // "backend services"
	// regional is true when gcloud offers --region beside --global.
	regional bool
	// globalByDefault is true when gcloud takes a resource named without --global or
	// --region to be global (URL maps, certificates, proxies, health checks); otherwise
	// it asks, and without a terminal fails with "Underspecified resource".
	globalByDefault bool
	// listFormat is gcloud's default list format, also used to show a created resource.
	listFormat string
	// noAggregatedList makes list without --global or --regions list the global
	// resources only, for collections the API has no aggregated list of.
	noAggregatedList bool
	// logByName makes create and delete say "Created network endpoint group [name]."
	// instead of "Created [selfLink].", as gcloud does for NEGs.
	logByName bool
}

// scopeFlags are a command's --global and --region flags.
type scopeFlags struct {
	rt     *resourceType
	global bool
	region string
}

func addScopeFlags(cmd *cobra.Command, rt *resourceType, verb string) *scopeFlags {
	f := &scopeFlags{rt: rt}
	cmd.Flags().BoolVar(&f.global, "global", false, fmt.Sprintf("If set, the %s is global.", rt.noun))
	if rt.regional {
		cmd.Flags().StringVar(&f.region, "region", "", fmt.Sprintf("Region of the %s to %s.", rt.noun, verb))
	}
	return f
}

// resolve returns the location the flags select for the named resources.
func (f *scopeFlags) resolve(names []string) (location, error) {
	switch {
	case f.global && f.region != "":
		return location{}, errors.New("argument --global: At most one of --global | --region may be specified.")
	case f.region != "":
		return location{region: f.region}, nil
	case f.global || f.rt.globalByDefault:
		return location{}, nil
	}
	which := "[--global, --region]"
	if !f.rt.regional {
		which = "[--global]"
	}
	noun := "resource"
	if len(names) > 1 {
		noun = "resources"
	}
	return location{}, fmt.Errorf("Underspecified %s [%s]. Specify one of the %s flags.", noun, strings.Join(names, ", "), which)
}

// resourceCommand makes a command on one named resource of rt, "USE NAME", with
// rt's --global and --region flags; run gets the resource the name and flags select.
func (a *app) resourceCommand(rt *resourceType, use, short, verb string, run func(s *session, t target) error) *cobra.Command {
	var scope *scopeFlags
	cmd := a.command(use+" NAME", short, exactArgs("NAME"), func(s *session, args []string) error {
		t, err := s.target(scope, args[0])
		if err != nil {
			return err
		}
		return run(s, t)
	})
	scope = addScopeFlags(cmd, rt, verb)
	return cmd
}

// describeCommand is `describe NAME`: the resource as YAML.
func (a *app) describeCommand(rt *resourceType) *cobra.Command {
	return a.resourceCommand(rt, "describe", "Describe a "+rt.noun+".", "describe", func(s *session, t target) error {
		var res any
		if err := s.get(t.path(rt.collection), &res); err != nil {
			return err
		}
		return s.show("yaml", []any{res}, true)
	})
}

// deleteCommand is `delete NAME [NAME …]`, with gcloud's confirmation prompt.
func (a *app) deleteCommand(rt *resourceType) *cobra.Command {
	var scope *scopeFlags
	cmd := a.command("delete NAME [NAME ...]", "Delete "+rt.plural+".", someArgs("NAME"), func(s *session, names []string) error {
		targets, err := s.targets(scope, names)
		if err != nil {
			return err
		}
		lines := []string{fmt.Sprintf("The following %s will be deleted:", rt.plural)}
		for _, t := range targets {
			lines = append(lines, " - "+t.String())
		}
		if err := s.confirm(strings.Join(lines, "\n"), "Deletion aborted by user."); err != nil {
			return err
		}
		for _, t := range targets {
			op, err := s.client.mutate(s.ctx, http.MethodDelete, t.path(rt.collection), nil)
			if err != nil {
				return err
			}
			s.logResource("Deleted", rt, op, t.name)
		}
		return nil
	})
	scope = addScopeFlags(cmd, rt, "delete")
	return cmd
}

// listFlags are gcloud's list flags.
type listFlags struct {
	global  bool
	regions *listValue
	limit   *optional[int64]
	sortBy  *listValue
	uri     bool
}

// listCommand is `list [NAME …]`: global and regional resources (gcloud's aggregated
// list), or those of --global or --regions, as gcloud's table.
func (a *app) listCommand(rt *resourceType) *cobra.Command {
	lf := &listFlags{}
	cmd := a.command("list [NAME ...]", "List "+rt.plural+".", anyArgs, func(s *session, names []string) error {
		items, err := s.listResources(rt, lf)
		if err != nil {
			return err
		}
		items = keepNamed(items, names)
		if err := sortItems(items, lf.sortBy.items); err != nil {
			return err
		}
		if lf.limit.set && int64(len(items)) > lf.limit.value {
			items = items[:max(lf.limit.value, 0)]
		}
		if lf.uri {
			for _, item := range items {
				fmt.Fprintln(s.stdout, stringField(item, "selfLink"))
			}
			return nil
		}
		if len(items) == 0 && s.format == "" {
			s.status("Listed 0 items.") // gcloud's note instead of an empty table
			return nil
		}
		return s.show(rt.listFormat, items, false)
	})
	f := cmd.Flags()
	f.BoolVar(&lf.global, "global", false, "If set, only global "+rt.plural+" are shown.")
	lf.regions = &listValue{}
	if rt.regional {
		lf.regions = addList(f, "regions", "If given, only "+rt.plural+" of these regions are shown.")
	}
	lf.limit = addInt(f, "limit", "Maximum number of resources to list.")
	lf.sortBy = addList(f, "sort-by", "Fields to sort by; prefix a field with ~ for descending order.")
	f.BoolVar(&lf.uri, "uri", false, "Print a list of resource URIs instead of the default output.")
	return cmd
}

// listResources reads the resources the list flags select.
func (s *session) listResources(rt *resourceType, lf *listFlags) ([]any, error) {
	switch {
	case lf.global && lf.regions.set:
		return nil, errors.New("argument --global: At most one of --global | --regions may be specified.")
	case lf.regions.set:
		var all []any
		for _, r := range lf.regions.items {
			items, err := s.listPages(computePath(s.project, location{region: r}, rt.collection))
			if err != nil {
				return nil, err
			}
			all = append(all, items...)
		}
		return all, nil
	case lf.global || !rt.regional || rt.noAggregatedList:
		return s.listPages(computePath(s.project, location{}, rt.collection))
	}
	return s.aggregatedList(rt.collection)
}

// listPages reads every page of a Compute list.
func (s *session) listPages(path string) ([]any, error) {
	var all []any
	token := ""
	for {
		var page struct {
			Items         []any  `json:"items"`
			NextPageToken string `json:"nextPageToken"`
		}
		p := path
		if token != "" {
			p += "?pageToken=" + url.QueryEscape(token)
		}
		if err := s.get(p, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextPageToken == "" || page.NextPageToken == token {
			return all, nil
		}
		token = page.NextPageToken
	}
}

// aggregatedList reads projects/{p}/aggregated/{collection}: every scope's items,
// global first, then regions in name order.
func (s *session) aggregatedList(collection string) ([]any, error) {
	var agg struct {
		Items map[string]map[string]any `json:"items"`
	}
	if err := s.get(joinPath("compute", "v1", "projects", s.project, "aggregated", collection), &agg); err != nil {
		return nil, err
	}
	scopes := make([]string, 0, len(agg.Items))
	for scope := range agg.Items {
		scopes = append(scopes, scope)
	}
	sort.Strings(scopes)
	var all []any
	for _, scope := range scopes {
		if items, ok := agg.Items[scope][collection].([]any); ok {
			all = append(all, items...)
		}
	}
	return all, nil
}

// keepNamed keeps the items whose name or selfLink is one of names; no names keeps all.
func keepNamed(items []any, names []string) []any {
	if len(names) == 0 {
		return items
	}
	var out []any
	for _, item := range items {
		for _, n := range names {
			if stringField(item, "name") == n || stringField(item, "selfLink") == n {
				out = append(out, item)
				break
			}
		}
	}
	return out
}

// sortItems sorts by gcloud's --sort-by keys ("name", "~creationTimestamp",
// "cdnPolicy.cacheMode").
func sortItems(items []any, keys []string) error {
	for _, k := range keys {
		if strings.TrimPrefix(k, "~") == "" {
			return errors.New("argument --sort-by: empty field name")
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		for _, k := range keys {
			field, desc := strings.CutPrefix(k, "~")
			c := compareValues(lookup(items[i], field), lookup(items[j], field))
			if c != 0 {
				return (c < 0) != desc
			}
		}
		return false
	})
	return nil
}

// lookup follows a dotted key through decoded JSON.
func lookup(v any, key string) any {
	for _, part := range strings.Split(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// compareValues orders numbers numerically, missing values first, the rest as text.
func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	fa, aNum := number(a)
	fb, bNum := number(b)
	if aNum && bNum {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// number reads a decoded JSON number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func stringField(v any, key string) string {
	s, _ := lookup(v, key).(string)
	return s
}

// logResource prints gcloud's status line for a finished operation: "Created
// [selfLink]." or, for NEGs, "Created network endpoint group [name].".
func (s *session) logResource(verb string, rt *resourceType, op *api.Operation, name string) {
	if rt.logByName {
		s.status("%s %s [%s].", verb, rt.noun, name)
		return
	}
	s.status("%s [%s].", verb, op.TargetLink)
}

// insert creates a resource, says so, and shows it as a row of the list table, as
// gcloud's create commands do.
func (s *session) insert(rt *resourceType, loc location, body any, name string) error {
	res, err := s.create(rt, loc, body, name)
	if err != nil || res == nil {
		return err
	}
	return s.show(rt.listFormat, []any{res}, false)
}

// create creates a resource, says so ("Created [selfLink]."), and returns it as the
// API now has it; nil for NEGs, which gcloud does not show unless asked to.
func (s *session) create(rt *resourceType, loc location, body any, name string) (any, error) {
	op, err := s.client.mutate(s.ctx, http.MethodPost, computePath(s.project, loc, rt.collection), body)
	if err != nil {
		return nil, err
	}
	s.logResource("Created", rt, op, name)
	if rt.logByName && s.format == "" {
		return nil, nil
	}
	var res any
	if err := s.get(apiPath(op.TargetLink), &res); err != nil {
		return nil, err
	}
	return res, nil
}

// maxFingerprintRetries bounds read-modify-write retries after another writer
// changed the resource in between (412 conditionNotMet).
const maxFingerprintRetries = 3

// readModifyWrite reads a resource into a fresh T, lets modify change it and writes
// it back with PUT (the read fingerprint guards against lost updates; on a conflict it
// starts again), then prints "Updated [selfLink].".
func readModifyWrite[T any](s *session, path string, modify func(*T) error) error {
	for attempt := 0; ; attempt++ {
		cur := new(T)
		if err := s.get(path, cur); err != nil {
			return err
		}
		if err := modify(cur); err != nil {
			return err
		}
		op, err := s.client.mutate(s.ctx, http.MethodPut, path, cur)
		if hasReason(err, "conditionNotMet") && attempt < maxFingerprintRetries {
			continue
		}
		if err != nil {
			return err
		}
		s.status("Updated [%s].", op.TargetLink)
		return nil
	}
}

// post sends a POST that answers with an operation (an action such as setUrlMap),
// waits for it and prints "Updated [selfLink].".
func (s *session) post(path string, body any) error {
	op, err := s.client.mutate(s.ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	s.status("Updated [%s].", op.TargetLink)
	return nil
}

// errNoChange is gcloud's answer to an update that changes nothing.
var errNoChange = errors.New("At least one property must be modified.")
