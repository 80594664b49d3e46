package cli

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"meridian/api"
)

// The frontend of the load balancer: reserved addresses and the forwarding rules that
// bind an address and port to a target proxy.

func addressType() *resourceType {
	return &resourceType{
		collection: "addresses", noun: "address", plural: "addresses", regional: true,
		listFormat: "table(name, address:label=ADDRESS/RANGE, addressType:label=TYPE, purpose, network.basename(), region.basename(), subnetwork.basename():label=SUBNET, status)",
	}
}

func forwardingRuleType() *resourceType {
	return &resourceType{
		collection: "forwardingRules", noun: "forwarding rule", plural: "forwarding rules", regional: true,
		listFormat: "table(name, region.basename(), IPAddress, IPProtocol, target.basename():label=TARGET)",
	}
}

// addressesCommand is `compute addresses`.
func (a *app) addressesCommand() *cobra.Command {
	rt := addressType()
	return a.group("addresses", "Read and manipulate reserved IP addresses.",
		a.addressCreateCommand(rt),
		a.deleteCommand(rt),
		a.describeCommand(rt),
		a.listCommand(rt),
	)
}

func (a *app) addressCreateCommand(rt *resourceType) *cobra.Command {
	var scope *scopeFlags
	var addresses *listValue
	var description, ipVersion, tier, purpose *optional[string]
	var prefixLength *optional[int64]
	cmd := a.command("create NAME [NAME ...]", "Reserve IP addresses.", someArgs("NAME"), func(s *session, names []string) error {
		if addresses.set && len(addresses.items) != len(names) {
			return errors.New("If providing --addresses, you must provide the same number of addresses as NAME.")
		}
		targets, err := s.targets(scope, names)
		if err != nil {
			return err
		}
		var created []any
		for i, t := range targets {
			addr := api.Address{Meta: api.Meta{Name: t.name}}
			description.apply(&addr.Description)
			ipVersion.apply(&addr.IPVersion)
			tier.apply(&addr.NetworkTier)
			purpose.apply(&addr.Purpose)
			prefixLength.apply(&addr.PrefixLength)
			if addresses.set {
				addr.Address = addresses.items[i]
			}
			res, err := s.create(rt, t.loc, &addr, t.name)
			if err != nil {
				return err
			}
			created = append(created, res)
		}
		return s.show(rt.listFormat, created, false)
	})
	scope = addScopeFlags(cmd, rt, "create")
	f := cmd.Flags()
	addresses = addList(f, "addresses", "IP addresses to reserve, one per NAME; by default Meridian allocates them from its pool.")
	description = addString(f, "description", "An optional, textual description for the addresses.")
	ipVersion = addEnum(f, "ip-version", "IP version of a global address (default IPV4).", "IPV4", "IPV6")
	tier = addEnum(f, "network-tier", "Network tier of the address.", "PREMIUM", "STANDARD")
	purpose = addString(f, "purpose", "Purpose of the address.")
	prefixLength = addInt(f, "prefix-length", "Prefix length of an address range.")
	return cmd
}

// forwardingRulesCommand is `compute forwarding-rules`.
func (a *app) forwardingRulesCommand() *cobra.Command {
	rt := forwardingRuleType()
	return a.group("forwarding-rules", "Read and manipulate forwarding rules that send traffic to target proxies.",
		a.forwardingRuleCreateCommand(rt),
		a.deleteCommand(rt),
		a.describeCommand(rt),
		a.listCommand(rt),
		a.forwardingRuleSetTargetCommand(rt),
	)
}

// targetFlags select a forwarding rule's target proxy.
type targetFlags struct {
	https, http *optional[string]
}

func addTargetFlags(cmd *cobra.Command) *targetFlags {
	return &targetFlags{
		https: addString(cmd.Flags(), "target-https-proxy", "Target HTTPS proxy that receives the traffic."),
		http:  addString(cmd.Flags(), "target-http-proxy", "Target HTTP proxy that receives the traffic."),
	}
}

func (f *targetFlags) ref(t target) (string, error) {
	switch {
	case f.https.set == f.http.set:
		return "", errors.New("Exactly one of (--target-http-proxy | --target-https-proxy) must be specified.")
	case f.https.set:
		return resourceRef(t.project, t.loc, "targetHttpsProxies", f.https.value), nil
	}
	return resourceRef(t.project, t.loc, "targetHttpProxies", f.http.value), nil
}

func (a *app) forwardingRuleCreateCommand(rt *resourceType) *cobra.Command {
	var targets *targetFlags
	var address, addressRegion, portRange, protocol, scheme, tier, ipVersion, description *optional[string]
	var ports *listValue
	var globalAddress bool
	cmd := a.resourceCommand(rt, "create", "Create a forwarding rule.", "create", func(s *session, t target) error {
		fr := api.ForwardingRule{Meta: api.Meta{Name: t.name}}
		var err error
		if fr.Target, err = targets.ref(t); err != nil {
			return err
		}
		if fr.PortRange, err = singlePortRange(ports, portRange); err != nil {
			return err
		}
		if address.set {
			loc := t.loc
			if addressRegion.set {
				loc = location{region: addressRegion.value}
			} else if globalAddress {
				loc = location{}
			}
			fr.IPAddress = addressRef(t.project, loc, address.value)
		}
		description.apply(&fr.Description)
		protocol.apply(&fr.IPProtocol)
		scheme.apply(&fr.LoadBalancingScheme)
		tier.apply(&fr.NetworkTier)
		ipVersion.apply(&fr.IPVersion)
		return s.insert(rt, t.loc, &fr, t.name)
	})
	targets = addTargetFlags(cmd)
	f := cmd.Flags()
	address = addString(f, "address", "IP address (or the name of a reserved address) the rule serves; by default Meridian allocates one.")
	addressRegion = addString(f, "address-region", "Region of the reserved address named by --address.")
	f.BoolVar(&globalAddress, "global-address", false, "If set, the address named by --address is global.")
	ports = addList(f, "ports", "Port or port range the rule serves, e.g. 443 or 8080-8090.")
	portRange = addString(f, "port-range", "Port or port range the rule serves (deprecated; use --ports).")
	protocol = addEnum(f, "ip-protocol", "IP protocol the rule serves (default TCP).", "TCP", "UDP", "ESP", "AH", "SCTP", "ICMP", "L3_DEFAULT")
	scheme = addEnum(f, "load-balancing-scheme", "Load balancer the rule is for (default EXTERNAL).", "EXTERNAL", "EXTERNAL_MANAGED", "INTERNAL", "INTERNAL_MANAGED", "INTERNAL_SELF_MANAGED")
	tier = addEnum(f, "network-tier", "Network tier of the rule.", "PREMIUM", "STANDARD")
	ipVersion = addEnum(f, "ip-version", "IP version of an allocated address (default IPV4).", "IPV4", "IPV6")
	description = addString(f, "description", "An optional, textual description for the forwarding rule.")
	return cmd
}

// addressRef is the IPAddress of a forwarding rule: an IP literal as given, otherwise
// the reference to a reserved address.
func addressRef(project string, loc location, address string) string {
	if net.ParseIP(address) != nil {
		return address
	}
	return resourceRef(project, loc, "addresses", address)
}

// singlePortRange turns --ports (or the older --port-range) into the portRange of a
// proxy's forwarding rule, which takes one port or one range.
func singlePortRange(ports *listValue, portRange *optional[string]) (string, error) {
	var given []string
	given = append(given, ports.items...)
	if portRange.set {
		given = append(given, portRange.value)
	}
	switch len(given) {
	case 0:
		return "", errors.New("argument --ports: Must be specified.")
	case 1:
		if _, _, err := api.ParsePortRange(given[0]); err != nil {
			return "", fmt.Errorf("argument --ports: [%s] %v", given[0], err)
		}
		return given[0], nil
	}
	return "", fmt.Errorf("argument --ports: a forwarding rule of a target proxy takes a single port or port range, not [%s].", strings.Join(given, ", "))
}

func (a *app) forwardingRuleSetTargetCommand(rt *resourceType) *cobra.Command {
	var targets *targetFlags
	cmd := a.resourceCommand(rt, "set-target", "Point a forwarding rule at another target proxy.", "update", func(s *session, t target) error {
		ref, err := targets.ref(t)
		if err != nil {
			return err
		}
		return s.post(t.path(rt.collection, "setTarget"), map[string]string{"target": ref})
	})
	targets = addTargetFlags(cmd)
	return cmd
}
