package controlplane

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v1"
)

// TestGoogleRunClient drives the Cloud Run Admin API v1 with Google's own Go client
// pointed at a region's endpoint: create, get, list, replace with a traffic split,
// revisions get/list/delete, and delete.
func TestGoogleRunClient(t *testing.T) {
	c := newTestServer(t, Config{})
	ctx := context.Background()
	client, err := run.NewService(ctx, option.WithEndpoint(c.srv.URL+"/regions/us-central1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	hello := "us-docker.pkg.dev/cloudrun/container/hello"
	svc := &run.Service{ApiVersion: "serving.knative.dev/v1", Kind: "Service", Metadata: &run.ObjectMeta{Name: "my-global-app"},
		Spec: &run.ServiceSpec{Template: &run.RevisionTemplate{Spec: &run.RevisionSpec{Containers: []*run.Container{{Image: hello}}}}}}
	created, err := client.Namespaces.Services.Create("namespaces/p", svc).Do()
	if err != nil {
		t.Fatal(err)
	}
	rev1 := created.Status.LatestCreatedRevisionName
	if created.Metadata.Generation != 1 || rev1 == "" || created.Spec.Template.Spec.ContainerConcurrency != 80 {
		t.Fatalf("created %+v %+v", created.Metadata, created.Status)
	}
	got, err := client.Namespaces.Services.Get("namespaces/p/services/my-global-app").Do()
	if err != nil || got.Metadata.Uid != created.Metadata.Uid {
		t.Fatalf("get: %v %+v", err, got)
	}

	// A new revision named by the template, taking 10% with a tag.
	got.Spec.Template.Metadata = &run.ObjectMeta{Name: "my-global-app-green"}
	got.Spec.Template.Spec.Containers[0].Env = []*run.EnvVar{{Name: "COLOR", Value: "green"}}
	got.Spec.Traffic = []*run.TrafficTarget{{RevisionName: rev1, Percent: 90}, {RevisionName: "my-global-app-green", Percent: 10, Tag: "green"}}
	replaced, err := client.Namespaces.Services.ReplaceService("namespaces/p/services/my-global-app", got).Do()
	if err != nil || replaced.Metadata.Generation != 2 || replaced.Status.LatestCreatedRevisionName != "my-global-app-green" {
		t.Fatalf("replace: %v %+v", err, replaced)
	}
	list, err := client.Namespaces.Services.List("namespaces/p").Do()
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %+v", err, list)
	}
	// The global endpoint's projects/locations form reaches the same service.
	global, err := run.NewService(ctx, option.WithEndpoint(c.srv.URL+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	if l, err := global.Projects.Locations.Services.List("projects/p/locations/us-central1").Do(); err != nil || len(l.Items) != 1 || l.Items[0].Metadata.Name != "my-global-app" {
		t.Fatalf("projects.locations.services.list: %v %+v", err, l)
	}
	if r, err := global.Projects.Locations.Revisions.Get("projects/p/locations/us-central1/revisions/my-global-app-green").Do(); err != nil || r.Metadata.Name != "my-global-app-green" {
		t.Fatalf("projects.locations.revisions.get: %v %+v", err, r)
	}
	revs, err := client.Namespaces.Revisions.List("namespaces/p").LabelSelector("serving.knative.dev/service=my-global-app").Do()
	if err != nil || len(revs.Items) != 2 {
		t.Fatalf("revisions: %v %+v", err, revs)
	}
	rev, err := client.Namespaces.Revisions.Get("namespaces/p/revisions/my-global-app-green").Do()
	if err != nil || rev.Metadata.Labels["serving.knative.dev/service"] != "my-global-app" || rev.Spec.Containers[0].Env[0].Value != "green" {
		t.Fatalf("revision: %v %+v", err, rev)
	}
	// A revision serving traffic cannot be deleted: a googleapi error with the code.
	_, err = client.Namespaces.Revisions.Delete("namespaces/p/revisions/" + rev1).Do()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != http.StatusBadRequest {
		t.Fatalf("deleting a serving revision: %v", err)
	}
	if _, err := client.Namespaces.Services.Delete("namespaces/p/services/my-global-app").Do(); err != nil {
		t.Fatal(err)
	}
	_, err = client.Namespaces.Services.Get("namespaces/p/services/my-global-app").Do()
	if !errors.As(err, &gerr) || gerr.Code != http.StatusNotFound {
		t.Fatalf("get after delete: %v", err)
	}
}
