package api

import (
	"fmt"
	"net"
)

// NEG types Meridian implements.
const (
	NEGServerless       = "SERVERLESS"
	NEGInternetFQDNPort = "INTERNET_FQDN_PORT"
	NEGInternetIPPort   = "INTERNET_IP_PORT"
)

func (n *NetworkEndpointGroup) SetDefaults() {
	n.Kind = "compute#networkEndpointGroup"
	n.Size = int64(len(n.Endpoints))
}

// Validate checks the NEG alone; whether it is regional (SERVERLESS) or global
// (INTERNET_*) is checked by ValidateScope, since the scope comes from the request path.
func (n *NetworkEndpointGroup) Validate() error {
	if err := ValidateName("resource.name", n.Name); err != nil {
		return err
	}
	switch n.NetworkEndpointType {
	case "":
		return Required("resource.networkEndpointType")
	case NEGServerless:
		return n.validateServerless()
	case NEGInternetFQDNPort, NEGInternetIPPort:
		if n.CloudRun != nil || n.AppEngine != nil || n.CloudFunction != nil {
			return Conflict("resource.cloudRun", "Serverless settings can only be specified for SERVERLESS network endpoint groups.")
		}
		if err := validateRange("resource.defaultPort", n.DefaultPort, 0, 65535); err != nil {
			return err
		}
		for i, e := range n.Endpoints {
			if err := n.ValidateEndpoint(fmt.Sprintf("networkEndpoints[%d]", i), e); err != nil {
				return err
			}
		}
		return nil
	default:
		return Invalid("resource.networkEndpointType", n.NetworkEndpointType, "Meridian supports SERVERLESS, INTERNET_FQDN_PORT and INTERNET_IP_PORT network endpoint groups.")
	}
}

func (n *NetworkEndpointGroup) validateServerless() error {
	if n.AppEngine != nil || n.CloudFunction != nil {
		return Invalid("resource.networkEndpointType", n.NetworkEndpointType, "Meridian runs Cloud Run services only: set cloudRun, not appEngine or cloudFunction.")
	}
	if n.CloudRun == nil || (n.CloudRun.Service == "" && n.CloudRun.URLMask == "") {
		return Required("resource.cloudRun.service")
	}
	if n.CloudRun.Service != "" {
		if err := ValidateName("resource.cloudRun.service", n.CloudRun.Service); err != nil {
			return err
		}
	}
	if n.Network != "" || n.Subnetwork != "" || n.DefaultPort != 0 {
		return Conflict("resource.network", "network, subnetwork and defaultPort must not be set for SERVERLESS network endpoint groups.")
	}
	return nil
}

// ValidateScope checks that a NEG's type fits where it is created: serverless NEGs are
// regional, internet NEGs global.
func (n *NetworkEndpointGroup) ValidateScope(regional bool) error {
	switch {
	case n.NetworkEndpointType == NEGServerless && !regional:
		return Invalid("resource.networkEndpointType", n.NetworkEndpointType, "SERVERLESS network endpoint groups are regional: create them with regionNetworkEndpointGroups.")
	case n.NetworkEndpointType != NEGServerless && regional:
		return Invalid("resource.networkEndpointType", n.NetworkEndpointType, "Internet network endpoint groups are global: create them with globalNetworkEndpointGroups.")
	}
	return nil
}

// ValidateEndpoint checks one endpoint against the NEG's type: an FQDN endpoint names a
// host, an IP endpoint an address; ports are optional (the NEG's defaultPort applies).
func (n *NetworkEndpointGroup) ValidateEndpoint(field string, e NetworkEndpoint) error {
	if err := validateRange(field+".port", e.Port, 0, 65535); err != nil {
		return err
	}
	switch n.NetworkEndpointType {
	case NEGInternetFQDNPort:
		if e.Fqdn == "" {
			return Required(field + ".fqdn")
		}
		if e.IPAddress != "" {
			return Conflict(field+".ipAddress", "ipAddress must not be set for INTERNET_FQDN_PORT endpoints.")
		}
		if !isDomainName(e.Fqdn) {
			return Invalid(field+".fqdn", e.Fqdn, "Must be a fully qualified domain name.")
		}
	case NEGInternetIPPort:
		if e.IPAddress == "" {
			return Required(field + ".ipAddress")
		}
		if e.Fqdn != "" {
			return Conflict(field+".fqdn", "fqdn must not be set for INTERNET_IP_PORT endpoints.")
		}
		if net.ParseIP(e.IPAddress) == nil {
			return Invalid(field+".ipAddress", e.IPAddress, "Must be an IP address.")
		}
	default:
		return Invalid("resource.networkEndpointType", n.NetworkEndpointType, "Only internet network endpoint groups have network endpoints.")
	}
	return nil
}

func (n *NetworkEndpointGroup) References() []Ref { return nil }

// Redact hides the endpoint list, which GCP serves only through listNetworkEndpoints.
func (n *NetworkEndpointGroup) Redact() { n.Endpoints = nil }

// SameEndpoint reports whether two endpoints name the same destination, the identity
// attach and detach use.
func SameEndpoint(a, b NetworkEndpoint) bool {
	return a.Fqdn == b.Fqdn && a.IPAddress == b.IPAddress && a.Port == b.Port
}

// isDomainName checks RFC 1123 host name syntax (letters, digits, hyphens, dots).
func isDomainName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return false
			}
			label = 0
		case c == '-':
			if label == 0 {
				return false
			}
			label++
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			label++
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return label > 0 || s[len(s)-1] == '.'
}
