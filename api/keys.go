package api

import "strings"

// The store's key space, in one place: where each kind of record lives. Everything
// that reads or writes etcd names keys through these.
const (
	// ResourcesPrefix holds every Compute and Knative resource, by relative path
	// ("res/projects/p/global/urlMaps/m").
	ResourcesPrefix = "res/"
	// EndpointsPrefix holds what region runtimes publish for the services they run:
	// endpoints/regions/{region}/namespaces/{namespace}/services/{name}.
	EndpointsPrefix = "endpoints/"
)

// ResourceKey is the key of the resource at a relative path.
func ResourceKey(path string) string { return ResourcesPrefix + path }

// EndpointKey is the key of a service's endpoint in a region.
func EndpointKey(region, namespace, name string) string {
	return EndpointsPrefix + "regions/" + region + "/namespaces/" + namespace + "/services/" + name
}

// ParseEndpointKey splits an endpoint key into its region, namespace and service.
func ParseEndpointKey(key string) (region, namespace, name string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 7 || parts[0]+"/" != EndpointsPrefix || parts[1] != "regions" || parts[3] != "namespaces" || parts[5] != "services" {
		return "", "", "", false
	}
	return parts[2], parts[4], parts[6], true
}

// LogsPrefix holds the output of Cloud Run services' instances, as region runtimes
// write it: logs/projects/{project}/regions/{region}/services/{name}/{time}-{writer},
// each a JSON array of LogLine, the oldest trimmed to a bound per service.
const LogsPrefix = "logs/"

// ServiceLogsPrefix is the prefix of a service's log batches.
func ServiceLogsPrefix(project, region, service string) string {
	return LogsPrefix + "projects/" + project + "/regions/" + region + "/services/" + service + "/"
}

// LogLine is one line a service's instance wrote (or the runtime wrote about it: no
// Instance), with its time (RFC 3339, nanoseconds, UTC) and the stream.
type LogLine struct {
	Time     string `json:"time"`
	Revision string `json:"revision,omitempty"`
	Instance string `json:"instance,omitempty"`
	Stream   string `json:"stream,omitempty"` // stdout, stderr, or empty for the runtime's
	Text     string `json:"text"`
}
