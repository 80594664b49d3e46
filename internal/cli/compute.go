package cli

import (
	"github.com/spf13/cobra"
)

// computeCommand is `meridian compute`, gcloud's `compute` group restricted to the
// resources of the global external Application Load Balancer.
func (a *app) computeCommand() *cobra.Command {
	root := a.group("compute", "Create and manage the load balancer's resources, as `gcloud compute` does.",
		a.addressesCommand(),
		a.backendServicesCommand(),
		a.forwardingRulesCommand(),
		a.healthChecksCommand(),
		a.negCommand(),
		a.operationsCommand(),
		a.securityPoliciesCommand(),
		a.signURLCommand(),
		a.sslCertificatesCommand(),
		a.sslPoliciesCommand(),
		a.targetHTTPProxiesCommand(),
		a.targetHTTPSProxiesCommand(),
		a.urlMapsCommand(),
	)
	a.setUpTree(root)
	return root
}

// setUpTree gives a tree its global flags and the Env's streams.
func (a *app) setUpTree(root *cobra.Command) {
	a.addGlobalFlags(root)
	root.SetIn(a.env.Stdin)
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
}

// operationsCommand is `compute operations`: reading the operations that mutating
// calls return.
func (a *app) operationsCommand() *cobra.Command {
	rt := &resourceType{
		collection: "operations", noun: "operation", plural: "operations", regional: true, noAggregatedList: true,
		listFormat: "table(name, operationType:label=TYPE, targetLink.scoped_suffixes():label=TARGET, status, insertTime:label=TIMESTAMP)",
	}
	return a.group("operations", "Read Compute Engine operations.",
		a.describeCommand(rt),
		a.listCommand(rt),
	)
}
