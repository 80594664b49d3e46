package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"meridian/api"
)

func negType() *resourceType {
	return &resourceType{
		collection: "networkEndpointGroups", noun: "network endpoint group", plural: "network endpoint groups",
		regional: true, logByName: true,
		// LOCATION is the scope segment of the selfLink: "global" or the region.
		listFormat: "table(name, selfLink.segment(-3):label=LOCATION, networkEndpointType:label=ENDPOINT_TYPE, size)",
	}
}

// negCommand is `compute network-endpoint-groups`.
func (a *app) negCommand() *cobra.Command {
	rt := negType()
	return a.group("network-endpoint-groups", "Read and manipulate network endpoint groups.",
		a.negCreateCommand(rt),
		a.deleteCommand(rt),
		a.describeCommand(rt),
		a.listCommand(rt),
		a.negListEndpointsCommand(rt),
		a.negUpdateCommand(rt),
	)
}

func (a *app) negCreateCommand(rt *resourceType) *cobra.Command {
	var (
		negType, description, runService, runTag, runURLMask, network, subnet *optional[string]
		defaultPort                                                           *optional[int64]
	)
	cmd := a.resourceCommand(rt, "create", "Create a network endpoint group.", "create", func(s *session, t target) error {
		if !negType.set {
			// gcloud's default, GCE_VM_IP_PORT, is for VMs in a zone, which Meridian has not.
			return errors.New("argument --network-endpoint-type: Must be specified: SERVERLESS (regional, with --cloud-run-service), or INTERNET_FQDN_PORT or INTERNET_IP_PORT (global).")
		}
		neg := api.NetworkEndpointGroup{Meta: api.Meta{Name: t.name}, NetworkEndpointType: negType.value}
		description.apply(&neg.Description)
		defaultPort.apply(&neg.DefaultPort)
		if runService.set || runTag.set || runURLMask.set {
			neg.CloudRun = &api.NEGCloudRun{}
			runService.apply(&neg.CloudRun.Service)
			runTag.apply(&neg.CloudRun.Tag)
			runURLMask.apply(&neg.CloudRun.URLMask)
		}
		if network.set {
			neg.Network = resourceRef(t.project, location{}, "networks", network.value)
		}
		if subnet.set {
			neg.Subnetwork = resourceRef(t.project, t.loc, "subnetworks", subnet.value)
		}
		return s.insert(rt, t.loc, &neg, t.name)
	})
	f := cmd.Flags()
	// gcloud's choices; the API refuses the types Meridian does not run.
	negType = addEnum(f, "network-endpoint-type", "Type of the network endpoints.",
		"GCE_VM_IP", "GCE_VM_IP_PORT", "GCE_VM_IP_PORTMAP", "INTERNET_FQDN_PORT", "INTERNET_IP_PORT",
		"NON_GCP_PRIVATE_IP_PORT", "PRIVATE_SERVICE_CONNECT", "SERVERLESS")
	description = addString(f, "description", "An optional, textual description for the network endpoint group.")
	runService = addString(f, "cloud-run-service", "Cloud Run service the serverless network endpoint group points at.")
	runTag = addString(f, "cloud-run-tag", "Cloud Run tag (traffic target) to route to.")
	runURLMask = addString(f, "cloud-run-url-mask", "URL mask that maps requests to Cloud Run services, e.g. '<service>.example.com'.")
	defaultPort = addInt(f, "default-port", "Default port of the network endpoints.")
	network = addString(f, "network", "Network of the network endpoints.")
	subnet = addString(f, "subnet", "Subnetwork of the network endpoints.")
	return cmd
}

func (a *app) negUpdateCommand(rt *resourceType) *cobra.Command {
	var add, remove *repeated
	cmd := a.resourceCommand(rt, "update", "Add endpoints to or remove endpoints from an internet network endpoint group.", "update", func(s *session, t target) error {
		if len(add.items) > 0 == (len(remove.items) > 0) {
			return errors.New("Exactly one of (--add-endpoint | --remove-endpoint) must be specified.")
		}
		action, specs := "attachNetworkEndpoints", add.items
		if len(remove.items) > 0 {
			action, specs = "detachNetworkEndpoints", remove.items
		}
		var endpoints []api.NetworkEndpoint
		for _, spec := range specs {
			e, err := parseEndpoint(spec)
			if err != nil {
				return fmt.Errorf("Invalid endpoint [%s]: %v.", spec, err)
			}
			endpoints = append(endpoints, e)
		}
		return s.post(t.path(rt.collection, action), map[string]any{"networkEndpoints": endpoints})
	})
	add = addRepeated(cmd.Flags(), "add-endpoint", `Endpoint to attach: "ip=1.2.3.4,port=80" or "fqdn=example.com,port=443".`)
	remove = addRepeated(cmd.Flags(), "remove-endpoint", `Endpoint to detach, in the form of --add-endpoint.`)
	return cmd
}

func (a *app) negListEndpointsCommand(rt *resourceType) *cobra.Command {
	cmd := a.resourceCommand(rt, "list-network-endpoints", "List the network endpoints of a network endpoint group.", "list the endpoints of", func(s *session, t target) error {
		var answer struct {
			Items []any `json:"items"`
		}
		if err := s.client.do(s.ctx, "POST", t.path(rt.collection, "listNetworkEndpoints"), nil, &answer); err != nil {
			return err
		}
		return s.show("table(networkEndpoint.instance, networkEndpoint.ipAddress, networkEndpoint.ipv6Address, networkEndpoint.port, networkEndpoint.fqdn)", answer.Items, false)
	})
	return cmd
}
