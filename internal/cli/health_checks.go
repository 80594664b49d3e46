package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"meridian/api"
)

func healthCheckType() *resourceType {
	return &resourceType{
		collection: "healthChecks", noun: "health check", plural: "health checks", regional: true, globalByDefault: true,
		listFormat: "table(name, type:label=PROTOCOL)",
	}
}

// probeKind is one protocol of `health-checks create PROTOCOL` and `update PROTOCOL`.
type probeKind struct {
	command string // "http"
	typ     string // the API's type, "HTTP"
	http    bool   // an HTTP-family probe (request path, host) rather than TCP-family
}

func probeKinds() []probeKind {
	return []probeKind{
		{"http", "HTTP", true}, {"https", "HTTPS", true}, {"http2", "HTTP2", true},
		{"tcp", "TCP", false}, {"ssl", "SSL", false},
	}
}

// healthChecksCommand is `compute health-checks`.
func (a *app) healthChecksCommand() *cobra.Command {
	rt := healthCheckType()
	create := a.group("create", "Create a health check.")
	update := a.group("update", "Update a health check.")
	for _, k := range probeKinds() {
		create.AddCommand(a.healthCheckCreateCommand(rt, k))
		update.AddCommand(a.healthCheckUpdateCommand(rt, k))
	}
	return a.group("health-checks", "Read and manipulate health checks.",
		create,
		a.deleteCommand(rt),
		a.describeCommand(rt),
		a.listCommand(rt),
		update,
	)
}

// healthCheckFlags are the flags of create and update.
type healthCheckFlags struct {
	description, portName, proxyHeader, response *optional[string]
	requestPath, host, request                   *optional[string]
	port, checkInterval, timeout                 *optional[int64]
	healthy, unhealthy                           *optional[int64]
	useServingPort                               *optionalBool
}

func addHealthCheckFlags(fs *pflag.FlagSet, k probeKind) *healthCheckFlags {
	f := &healthCheckFlags{requestPath: &optional[string]{}, host: &optional[string]{}, request: &optional[string]{}}
	f.description = addString(fs, "description", "An optional, textual description for the health check.")
	f.port = addInt(fs, "port", "Port the probe connects to.")
	f.portName = addString(fs, "port-name", "Named port the probe connects to.")
	f.useServingPort = addOptionalBool(fs, "use-serving-port", "Probe each backend on the port it serves on.")
	f.proxyHeader = addEnum(fs, "proxy-header", "Proxy protocol header the probe sends.", "NONE", "PROXY_V1")
	f.response = addString(fs, "response", "Text the response must contain for the backend to be healthy.")
	f.checkInterval = addDuration(fs, "check-interval", "Time between probes, e.g. 5s.")
	f.timeout = addDuration(fs, "timeout", "Time to wait for a probe's answer, e.g. 5s.")
	f.healthy = addInt(fs, "healthy-threshold", "Consecutive successes that make a backend healthy.")
	f.unhealthy = addInt(fs, "unhealthy-threshold", "Consecutive failures that make a backend unhealthy.")
	if k.http {
		f.requestPath = addString(fs, "request-path", "Path of the probe's request (default /).")
		f.host = addString(fs, "host", "Host header of the probe's request.")
	} else {
		f.request = addString(fs, "request", "Data the probe sends after connecting.")
	}
	return f
}

func (f *healthCheckFlags) apply(hc *api.HealthCheck, k probeKind) {
	f.description.apply(&hc.Description)
	f.checkInterval.apply(&hc.CheckIntervalSec)
	f.timeout.apply(&hc.TimeoutSec)
	f.healthy.apply(&hc.HealthyThreshold)
	f.unhealthy.apply(&hc.UnhealthyThreshold)
	var common probeFields
	if k.http {
		p := httpProbe(hc, k.typ)
		if *p == nil {
			*p = &api.HTTPHealthCheck{}
		}
		f.requestPath.apply(&(*p).RequestPath)
		f.host.apply(&(*p).Host)
		common = probeFields{&(*p).Port, &(*p).PortName, &(*p).PortSpecification, &(*p).ProxyHeader, &(*p).Response}
	} else {
		p := tcpProbe(hc, k.typ)
		if *p == nil {
			*p = &api.TCPHealthCheck{}
		}
		f.request.apply(&(*p).Request)
		common = probeFields{&(*p).Port, &(*p).PortName, &(*p).PortSpecification, &(*p).ProxyHeader, &(*p).Response}
	}
	f.applyCommon(common)
}

// probeFields are the fields HTTP-family and TCP-family probes share.
type probeFields struct {
	port                                      *int64
	portName, portSpec, proxyHeader, response *string
}

func (f *healthCheckFlags) applyCommon(p probeFields) {
	f.port.apply(p.port)
	f.portName.apply(p.portName)
	f.proxyHeader.apply(p.proxyHeader)
	f.response.apply(p.response)
	switch {
	case f.useServingPort.set && f.useServingPort.value:
		*p.portSpec = "USE_SERVING_PORT"
	case f.port.set || f.useServingPort.set:
		*p.portSpec = "USE_FIXED_PORT"
	case f.portName.set:
		*p.portSpec = "USE_NAMED_PORT"
	}
}

// httpProbe is the field of an HTTP-family health check's probe.
func httpProbe(hc *api.HealthCheck, typ string) **api.HTTPHealthCheck {
	switch typ {
	case "HTTPS":
		return &hc.HTTPSHealthCheck
	case "HTTP2":
		return &hc.HTTP2HealthCheck
	}
	return &hc.HTTPHealthCheck
}

// tcpProbe is the field of a TCP-family health check's probe.
func tcpProbe(hc *api.HealthCheck, typ string) **api.TCPHealthCheck {
	if typ == "SSL" {
		return &hc.SSLHealthCheck
	}
	return &hc.TCPHealthCheck
}

func (a *app) healthCheckCreateCommand(rt *resourceType, k probeKind) *cobra.Command {
	var f *healthCheckFlags
	cmd := a.resourceCommand(rt, k.command, "Create a "+k.typ+" health check.", "create", func(s *session, t target) error {
		hc := api.HealthCheck{Meta: api.Meta{Name: t.name}, Type: k.typ}
		f.apply(&hc, k)
		return s.insert(rt, t.loc, &hc, t.name)
	})
	f = addHealthCheckFlags(cmd.Flags(), k)
	return cmd
}

func (a *app) healthCheckUpdateCommand(rt *resourceType, k probeKind) *cobra.Command {
	var f *healthCheckFlags
	cmd := a.resourceCommand(rt, k.command, "Update a "+k.typ+" health check.", "update", func(s *session, t target) error {
		if !s.flagsGiven("global", "region") {
			return errNoChange
		}
		return readModifyWrite(s, t.path(rt.collection), func(hc *api.HealthCheck) error {
			if hc.Type != k.typ {
				return fmt.Errorf("update %s subcommand applied to health check with protocol %s.", k.command, hc.Type)
			}
			f.apply(hc, k)
			return nil
		})
	})
	f = addHealthCheckFlags(cmd.Flags(), k)
	return cmd
}
