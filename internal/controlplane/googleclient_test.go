package controlplane

import (
	"context"
	"errors"
	"net/http"
	"testing"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// TestGoogleComputeClient drives the API with Google's own Go client, as a user of GCP
// would: insert, get, list, patch, delete and operation waits for every resource the
// seed uses.
func TestGoogleComputeClient(t *testing.T) {
	c := newTestServer(t, Config{})
	ctx := context.Background()
	svc, err := compute.NewService(ctx, option.WithEndpoint(c.srv.URL+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	const project, region = "p", "us-central1"
	wait := func(op *compute.Operation, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var got *compute.Operation
		if op.Region != "" {
			got, err = svc.RegionOperations.Wait(project, region, op.Name).Do()
		} else {
			got, err = svc.GlobalOperations.Wait(project, op.Name).Do()
		}
		if err != nil || got.Status != "DONE" || got.Error != nil {
			t.Fatalf("wait %s: %v %+v", op.Name, err, got)
		}
	}

	wait(svc.RegionNetworkEndpointGroups.Insert(project, region, &compute.NetworkEndpointGroup{
		Name: "cloudrun-neg", NetworkEndpointType: "SERVERLESS", CloudRun: &compute.NetworkEndpointGroupCloudRun{Service: "my-global-app"},
	}).Do())
	neg, err := svc.RegionNetworkEndpointGroups.Get(project, region, "cloudrun-neg").Do()
	if err != nil || neg.CloudRun.Service != "my-global-app" || neg.Id == 0 {
		t.Fatalf("neg %+v %v", neg, err)
	}

	wait(svc.BackendServices.Insert(project, &compute.BackendService{
		Name: "cloudrun-backend", LoadBalancingScheme: "EXTERNAL_MANAGED", EnableCDN: true,
		Backends: []*compute.Backend{{Group: neg.SelfLink}},
	}).Do())
	bs, err := svc.BackendServices.Get(project, "cloudrun-backend").Do()
	if err != nil || bs.CdnPolicy == nil || bs.CdnPolicy.CacheMode != "CACHE_ALL_STATIC" || bs.CdnPolicy.SignedUrlCacheMaxAgeSec != 3600 || bs.Backends[0].Group != neg.SelfLink {
		t.Fatalf("backend service %+v %v", bs, err)
	}
	wait(svc.BackendServices.Patch(project, "cloudrun-backend", &compute.BackendService{
		Fingerprint: bs.Fingerprint, // As gcloud does, the switch to FORCE_CACHE_ALL clears maxTtl, which that
		// mode does not take (a JSON null in the merge patch).
		CdnPolicy: &compute.BackendServiceCdnPolicy{CacheMode: "FORCE_CACHE_ALL", DefaultTtl: 60, ClientTtl: 30, NullFields: []string{"MaxTtl"}},
	}).Do())
	if got, _ := svc.BackendServices.Get(project, "cloudrun-backend").Do(); got.CdnPolicy.CacheMode != "FORCE_CACHE_ALL" || got.CdnPolicy.MaxTtl != 0 || got.CdnPolicy.DefaultTtl != 60 {
		t.Fatalf("patched cdnPolicy %+v", got.CdnPolicy)
	}
	_, err = svc.BackendServices.Patch(project, "cloudrun-backend", &compute.BackendService{Fingerprint: bs.Fingerprint, Description: "stale"}).Do()
	if code(err) != http.StatusPreconditionFailed {
		t.Fatalf("stale fingerprint: %v", err)
	}

	wait(svc.UrlMaps.Insert(project, &compute.UrlMap{Name: "cloudrun-url-map", DefaultService: bs.SelfLink}).Do())
	wait(svc.SslCertificates.Insert(project, &compute.SslCertificate{
		Name: "my-ssl-cert", Type: "MANAGED", Managed: &compute.SslCertificateManagedSslCertificate{Domains: []string{"your-domain.com"}},
	}).Do())
	um, err := svc.UrlMaps.Get(project, "cloudrun-url-map").Do()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := svc.SslCertificates.Get(project, "my-ssl-cert").Do()
	if err != nil || cert.Managed.Status != "PROVISIONING" {
		t.Fatalf("cert %+v %v", cert, err)
	}
	wait(svc.TargetHttpsProxies.Insert(project, &compute.TargetHttpsProxy{Name: "https-proxy", UrlMap: um.SelfLink, SslCertificates: []string{cert.SelfLink}}).Do())
	wait(svc.TargetHttpsProxies.SetUrlMap(project, "https-proxy", &compute.UrlMapReference{UrlMap: um.SelfLink}).Do())
	wait(svc.GlobalAddresses.Insert(project, &compute.Address{Name: "global-ip"}).Do())
	addr, err := svc.GlobalAddresses.Get(project, "global-ip").Do()
	if err != nil || addr.Address == "" || addr.Status != "RESERVED" {
		t.Fatalf("address %+v %v", addr, err)
	}
	proxy, err := svc.TargetHttpsProxies.Get(project, "https-proxy").Do()
	if err != nil {
		t.Fatal(err)
	}
	wait(svc.GlobalForwardingRules.Insert(project, &compute.ForwardingRule{
		Name: "https-forwarding-rule", IPAddress: addr.Address, Target: proxy.SelfLink, PortRange: "443", LoadBalancingScheme: "EXTERNAL_MANAGED",
	}).Do())
	frs, err := svc.GlobalForwardingRules.List(project).Filter("name = https-forwarding-rule").Do()
	if err != nil || len(frs.Items) != 1 || frs.Items[0].Target != proxy.SelfLink || frs.Items[0].PortRange != "443-443" {
		t.Fatalf("forwarding rules %+v %v", frs, err)
	}
	if addr, _ := svc.GlobalAddresses.Get(project, "global-ip").Do(); addr.Status != "IN_USE" {
		t.Errorf("address status %s", addr.Status)
	}

	// Deleting what is in use fails with GCP's reason; in order, everything goes.
	_, err = svc.BackendServices.Delete(project, "cloudrun-backend").Do()
	if code(err) != http.StatusBadRequest || reason(err) != "resourceInUseByAnotherResource" {
		t.Fatalf("delete in use: %v", err)
	}
	wait(svc.GlobalForwardingRules.Delete(project, "https-forwarding-rule").Do())
	wait(svc.GlobalAddresses.Delete(project, "global-ip").Do())
	wait(svc.TargetHttpsProxies.Delete(project, "https-proxy").Do())
	wait(svc.SslCertificates.Delete(project, "my-ssl-cert").Do())
	wait(svc.UrlMaps.Delete(project, "cloudrun-url-map").Do())
	wait(svc.BackendServices.Delete(project, "cloudrun-backend").Do())
	wait(svc.RegionNetworkEndpointGroups.Delete(project, region, "cloudrun-neg").Do())
	if _, err := svc.BackendServices.Get(project, "cloudrun-backend").Do(); code(err) != http.StatusNotFound {
		t.Fatalf("get deleted: %v", err)
	}
	list, err := svc.BackendServices.List(project).Do()
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("list after delete: %+v %v", list, err)
	}
}

func code(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

func reason(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) && len(ge.Errors) > 0 {
		return ge.Errors[0].Reason
	}
	return ""
}
