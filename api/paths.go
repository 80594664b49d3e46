package api

import (
	"fmt"
	"strings"
)

// ResourcePath names one Compute resource: projects/{Project}/global/{Collection}/{Name}
// or projects/{Project}/regions/{Region}/{Collection}/{Name}. It is the stored form of
// every reference, independent of the host the API is reached at.
type ResourcePath struct {
	Project    string
	Region     string // empty for global resources
	Collection string
	Name       string
}

// String renders the relative path, e.g. "projects/p/global/urlMaps/m".
func (p ResourcePath) String() string {
	return p.Scope() + "/" + p.Collection + "/" + p.Name
}

// Scope renders the path of the collection's scope: "projects/p/global" or
// "projects/p/regions/r".
func (p ResourcePath) Scope() string {
	if p.Region == "" {
		return "projects/" + p.Project + "/global"
	}
	return "projects/" + p.Project + "/regions/" + p.Region
}

// RegionPath is the relative path of a region, as GCP's `region` fields hold it.
func RegionPath(project, region string) string {
	return "projects/" + project + "/regions/" + region
}

// ParseResourcePath accepts a full URL (https://host/compute/v1/projects/…), a relative
// path (projects/…/global/c/n) or a partial one (global/c/n, regions/r/c/n), filling a
// missing project from defaultProject. Only the path after "projects/" matters, so a
// selfLink from any host (Google's or this API's) is accepted.
func ParseResourcePath(ref, defaultProject string) (ResourcePath, error) {
	s := ref
	if i := strings.Index(s, "projects/"); i >= 0 && (i == 0 || s[i-1] == '/') {
		s = s[i:]
	} else if strings.HasPrefix(s, "global/") || strings.HasPrefix(s, "regions/") {
		s = "projects/" + defaultProject + "/" + s
	} else {
		return ResourcePath{}, fmt.Errorf("%q is not a resource URL", ref)
	}
	parts := strings.Split(s, "/")
	// projects/p/global/c/n or projects/p/regions/r/c/n; the pre-"global" forms of
	// targetHttpsProxies actions are handled by the router, not here.
	switch {
	case len(parts) == 5 && parts[2] == "global":
		return checkedPath(ref, ResourcePath{Project: parts[1], Collection: parts[3], Name: parts[4]})
	case len(parts) == 6 && parts[2] == "regions":
		return checkedPath(ref, ResourcePath{Project: parts[1], Region: parts[3], Collection: parts[4], Name: parts[5]})
	}
	return ResourcePath{}, fmt.Errorf("%q is not a resource URL", ref)
}

func checkedPath(ref string, p ResourcePath) (ResourcePath, error) {
	if p.Project == "" || p.Collection == "" || p.Name == "" || (p.Region == "" && strings.Contains(ref, "/regions/")) {
		return ResourcePath{}, fmt.Errorf("%q is not a resource URL", ref)
	}
	return p, nil
}

// LastSegment returns what follows the last "/" of a URL or path: the resource name of a
// reference, the region name of a region URL.
func LastSegment(s string) string {
	return s[strings.LastIndexByte(s, '/')+1:]
}
