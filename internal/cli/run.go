package cli

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"meridian/api"
)

// runCommand is `meridian run`, Cloud Run's services on Meridian's regions. The API
// is Knative's serving.knative.dev/v1, one endpoint per region, under
// /regions/{region}/apis/serving.knative.dev/v1/namespaces/{project}/services.
func (a *app) runCommand() *cobra.Command {
	services := a.group("services", "Manage Cloud Run services.",
		a.runDeleteCommand(),
		a.runDescribeCommand(),
		a.runListCommand(),
		a.runReplaceCommand(),
		a.runUpdateTrafficCommand(),
		a.group("logs", "Read the logs of a Cloud Run service.", a.runLogsCommand()),
	)
	root := a.group("run", "Manage Cloud Run services, as `gcloud run` does.",
		a.runDeployCommand(),
		a.runRevisionsCommand(),
		services,
	)
	a.setUpTree(root)
	return root
}

// runFlags are the flags every `run services` command takes.
type runFlags struct {
	region   string
	platform string
	getenv   func(string) string
}

func (a *app) addRunFlags(fs *pflag.FlagSet) *runFlags {
	f := &runFlags{getenv: a.env.Getenv}
	fs.StringVar(&f.region, "region", "", "Region of the service (default: $CLOUDSDK_RUN_REGION).")
	fs.StringVar(&f.platform, "platform", "managed", "Target platform; Meridian runs the managed platform's contract.")
	return f
}

// servicesPath is the Knative services collection of a region, with an optional name.
func (f *runFlags) servicesPath(s *session, name ...string) (string, error) {
	return f.knativePath(s, "services", name...)
}

// knativePath is a Knative collection ("services", "revisions") of a region, with an
// optional name.
func (f *runFlags) knativePath(s *session, collection string, name ...string) (string, error) {
	if f.platform != "managed" {
		return "", fmt.Errorf("Meridian runs Cloud Run (fully managed) services only: --platform must be managed, not [%s].", f.platform)
	}
	region := f.regionName()
	if region == "" {
		return "", errors.New("Missing required argument [--region]: You must specify a region. Either use the `--region` flag or set $CLOUDSDK_RUN_REGION.")
	}
	segments := []string{"regions", region, "apis", "serving.knative.dev", "v1", "namespaces", s.project, collection}
	return joinPath(append(segments, name...)...), nil
}

func (f *runFlags) regionName() string {
	return firstNonEmpty(f.region, f.getenv("CLOUDSDK_RUN_REGION"))
}

func (a *app) runReplaceCommand() *cobra.Command {
	var f *runFlags
	var async bool
	cmd := a.command("replace FILE", "Create or replace a service from a Knative Service YAML file.", exactArgs("FILE"), func(s *session, args []string) error {
		svc, err := s.readDocument(args[0])
		if err != nil {
			return err
		}
		name, err := prepareService(svc, s.project)
		if err != nil {
			return err
		}
		collection, err := f.servicesPath(s)
		if err != nil {
			return err
		}
		s.status("Applying new configuration to Cloud Run service [%s] in project [%s] region [%s]", name, s.project, f.regionName())
		itemPath := collection + "/" + joinPath(name)
		var applied api.KnativeService
		err = s.get(itemPath, &api.KnativeService{})
		switch {
		case isNotFound(err):
			err = s.client.do(s.ctx, http.MethodPost, collection, svc, &applied)
		case err == nil:
			err = s.client.do(s.ctx, http.MethodPut, itemPath, svc, &applied)
		}
		if err != nil {
			return err
		}
		if !async {
			done, err := s.waitForService(itemPath, name)
			if err != nil {
				return err
			}
			applied = *done
		}
		s.status("New configuration has been applied to service [%s].", name)
		if applied.Status != nil && applied.Status.URL != "" {
			s.status("URL: %s", applied.Status.URL)
		}
		return nil
	})
	f = a.addRunFlags(cmd.Flags())
	cmd.Flags().BoolVar(&async, "async", false, "Return at once, without waiting for the service to be ready.")
	return cmd
}

// prepareService checks a Knative Service document and puts it in the project's
// namespace. Like gcloud, it refuses a namespace that names another project; the
// Kubernetes habit "default" is taken to mean the current project.
func prepareService(svc map[string]any, project string) (string, error) {
	meta, _ := svc["metadata"].(map[string]any)
	if meta == nil {
		return "", errors.New("The service file has no metadata.")
	}
	name, _ := meta["name"].(string)
	if name == "" {
		return "", errors.New("The service file has no metadata.name.")
	}
	switch ns, _ := meta["namespace"].(string); ns {
	case "", "default", project:
		meta["namespace"] = project
	default:
		return "", fmt.Errorf("Namespace must be project ID [%s] for Cloud Run (fully managed), not [%s].", project, ns)
	}
	return name, nil
}

func (a *app) runDescribeCommand() *cobra.Command {
	var f *runFlags
	cmd := a.command("describe SERVICE", "Describe a service.", exactArgs("SERVICE"), func(s *session, args []string) error {
		path, err := f.servicesPath(s, args[0])
		if err != nil {
			return err
		}
		var svc any
		if err := s.get(path, &svc); err != nil {
			return err
		}
		return s.show("yaml", []any{svc}, true)
	})
	f = a.addRunFlags(cmd.Flags())
	return cmd
}

func (a *app) runListCommand() *cobra.Command {
	var f *runFlags
	cmd := a.command("list", "List the services of a region.", exactArgs(), func(s *session, _ []string) error {
		path, err := f.servicesPath(s)
		if err != nil {
			return err
		}
		var list struct {
			Items []any `json:"items"`
		}
		if err := s.get(path, &list); err != nil {
			return err
		}
		return s.show("table(metadata.name:label=SERVICE, status.url:label=URL, status.latestCreatedRevisionName:label=LATEST_REVISION, metadata.creationTimestamp:label=CREATED)", list.Items, false)
	})
	f = a.addRunFlags(cmd.Flags())
	return cmd
}

func (a *app) runDeleteCommand() *cobra.Command {
	var f *runFlags
	cmd := a.command("delete SERVICE", "Delete a service.", exactArgs("SERVICE"), func(s *session, args []string) error {
		path, err := f.servicesPath(s, args[0])
		if err != nil {
			return err
		}
		if err := s.confirm(fmt.Sprintf("Service [%s] will be deleted.", args[0]), "Aborted by user."); err != nil {
			return err
		}
		if err := s.client.do(s.ctx, http.MethodDelete, path, nil, nil); err != nil {
			return err
		}
		s.status("Deleted service [%s].", args[0])
		return nil
	})
	f = a.addRunFlags(cmd.Flags())
	return cmd
}
