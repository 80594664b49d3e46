package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"meridian/api"
)

// `run revisions`: the immutable revisions a service's template changes make, at
// /regions/{region}/apis/serving.knative.dev/v1/namespaces/{project}/revisions.

func (a *app) runRevisionsCommand() *cobra.Command {
	return a.group("revisions", "View and manage Cloud Run revisions.",
		a.runRevisionDeleteCommand(),
		a.runRevisionDescribeCommand(),
		a.runRevisionListCommand(),
	)
}

// revisionsPath is the revisions collection of the region, with an optional name.
func (f *runFlags) revisionsPath(s *session, name ...string) (string, error) {
	return f.knativePath(s, "revisions", name...)
}

// revisionListFormat is gcloud's table of revisions.
const revisionListFormat = `table(name:label=REVISION, active:label=ACTIVE, service:label=SERVICE, deployed.date("%Y-%m-%d %H:%M:%S %Z"):label=DEPLOYED)`

func (a *app) runRevisionListCommand() *cobra.Command {
	var f *runFlags
	var service string
	cmd := a.command("list", "List the revisions of a region, or of one service.", exactArgs(), func(s *session, _ []string) error {
		path, err := f.revisionsPath(s)
		if err != nil {
			return err
		}
		if service != "" {
			path += "?labelSelector=" + url.QueryEscape(api.ServiceLabel+"="+service)
		}
		var raw struct {
			Items []any `json:"items"`
		}
		if err := s.get(path, &raw); err != nil {
			return err
		}
		revisions := make([]api.KnativeRevision, len(raw.Items))
		for i, item := range raw.Items {
			data, err := json.Marshal(item)
			if err == nil {
				err = json.Unmarshal(data, &revisions[i])
			}
			if err != nil {
				return fmt.Errorf("the API answered with a revision that is not one: %w", err)
			}
		}
		order := sortRevisions(revisions)
		if s.format != "" {
			items := make([]any, len(order))
			for k, i := range order {
				items[k] = raw.Items[i]
			}
			return s.show("", items, false)
		}
		active, err := f.activeRevisions(s, service)
		if err != nil {
			return err
		}
		if len(order) == 0 {
			s.status("Listed 0 items.")
			return nil
		}
		rows := make([]any, 0, len(order))
		for _, i := range order {
			r := revisions[i]
			yes := ""
			if active[r.Metadata.Name] {
				yes = "yes"
			}
			rows = append(rows, map[string]any{
				"name": r.Metadata.Name, "active": yes, "service": r.Metadata.Labels[api.ServiceLabel],
				"deployed": r.Metadata.CreationTimestamp,
			})
		}
		return s.show(revisionListFormat, rows, false)
	})
	fs := cmd.Flags()
	f = a.addRunFlags(fs)
	fs.StringVar(&service, "service", "", "List only the revisions of this service.")
	return cmd
}

// sortRevisions returns the order to list revisions in: by service, as gcloud sorts
// them, and newest first (by creation time, then by the generation that made them,
// then by name).
func sortRevisions(revs []api.KnativeRevision) []int {
	order := make([]int, len(revs))
	for i := range order {
		order[i] = i
	}
	gen := func(r api.KnativeRevision) int64 {
		n, _ := strconv.ParseInt(r.Metadata.Labels[api.ConfigurationGenerationLabel], 10, 64)
		return n
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := revs[i], revs[j]
		return cmp.Or(
			cmp.Compare(a.Metadata.Labels[api.ServiceLabel], b.Metadata.Labels[api.ServiceLabel]),
			cmp.Compare(b.Metadata.CreationTimestamp, a.Metadata.CreationTimestamp),
			cmp.Compare(gen(b), gen(a)),
			cmp.Compare(b.Metadata.Name, a.Metadata.Name),
		)
	})
	return order
}

// activeRevisions are the revisions that serve traffic, from the services' status.
func (f *runFlags) activeRevisions(s *session, service string) (map[string]bool, error) {
	var services []api.KnativeService
	if service != "" {
		path, err := f.servicesPath(s, service)
		if err != nil {
			return nil, err
		}
		var svc api.KnativeService
		err = s.get(path, &svc)
		switch {
		case isNotFound(err):
		case err != nil:
			return nil, err
		default:
			services = append(services, svc)
		}
	} else {
		path, err := f.servicesPath(s)
		if err != nil {
			return nil, err
		}
		var list struct {
			Items []api.KnativeService `json:"items"`
		}
		if err := s.get(path, &list); err != nil {
			return nil, err
		}
		services = list.Items
	}
	active := map[string]bool{}
	for _, svc := range services {
		if svc.Status == nil {
			continue
		}
		for _, t := range svc.Status.Traffic {
			rev := t.RevisionName
			if rev == "" && t.LatestRevision != nil && *t.LatestRevision {
				rev = svc.Status.LatestReadyRevisionName
			}
			if rev != "" && t.Percent > 0 {
				active[rev] = true
			}
		}
	}
	return active, nil
}

func (a *app) runRevisionDescribeCommand() *cobra.Command {
	var f *runFlags
	cmd := a.command("describe REVISION", "Describe a revision.", exactArgs("REVISION"), func(s *session, args []string) error {
		path, err := f.revisionsPath(s, args[0])
		if err != nil {
			return err
		}
		var rev any
		if err := s.get(path, &rev); err != nil {
			return err
		}
		return s.show("yaml", []any{rev}, true)
	})
	f = a.addRunFlags(cmd.Flags())
	return cmd
}

func (a *app) runRevisionDeleteCommand() *cobra.Command {
	var f *runFlags
	var async bool
	cmd := a.command("delete REVISION", "Delete a revision.", exactArgs("REVISION"), func(s *session, args []string) error {
		path, err := f.revisionsPath(s, args[0])
		if err != nil {
			return err
		}
		if err := s.confirm(fmt.Sprintf("Revision [%s] will be deleted.", args[0]), "Aborted by user."); err != nil {
			return err
		}
		if err := s.client.do(s.ctx, http.MethodDelete, path, nil, nil); err != nil {
			return err
		}
		s.status("Deleted revision [%s].", args[0])
		return nil
	})
	fs := cmd.Flags()
	f = a.addRunFlags(fs)
	addAsyncFlag(fs, &async)
	return cmd
}

// addAsyncFlag is --async on a command that has nothing to wait for; it is accepted
// for gcloud's scripts.
func addAsyncFlag(fs *pflag.FlagSet, async *bool) {
	fs.BoolVar(async, "async", false, "Accepted for compatibility with gcloud; the command does not wait anyway.")
}
