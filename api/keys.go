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
