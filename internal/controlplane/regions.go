package controlplane

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"

	"meridian/api"
	"meridian/internal/geo"
)

// Compute's regions.list and regions.get: GCP's regions, where services may be deployed
// (a Meridian region runtime serves any of them). gcloud lists them with `compute
// regions list` and offers them when a command needs a --region.

type region struct {
	Kind        string   `json:"kind"`
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Status      string   `json:"status"`
	SelfLink    string   `json:"selfLink"`
	Zones       []string `json:"zones"`
}

func (s *Server) handleRegions(mux *http.ServeMux) {
	mux.HandleFunc("GET /compute/v1/projects/{project}/regions", func(w http.ResponseWriter, r *http.Request) {
		project := r.PathValue("project")
		if err := api.ValidateName("project", project); err != nil {
			writeError(w, err)
			return
		}
		var items []any
		for _, name := range geo.Regions() {
			items = append(items, newRegion(project, name))
		}
		self := "projects/" + project + "/regions"
		writeJSON(w, http.StatusOK, s.render(s.baseURL(r), listResponse{Kind: "compute#regionList", ID: self, Items: items, SelfLink: self}))
	})
	mux.HandleFunc("GET /compute/v1/projects/{project}/regions/{region}", func(w http.ResponseWriter, r *http.Request) {
		project, name := r.PathValue("project"), r.PathValue("region")
		if !slices.Contains(geo.Regions(), name) {
			writeError(w, errNotFound("projects/"+project+"/regions/"+name))
			return
		}
		writeJSON(w, http.StatusOK, s.render(s.baseURL(r), newRegion(project, name)))
	})
}

func newRegion(project, name string) region {
	h := fnv.New64a()
	h.Write([]byte(name))
	return region{
		Kind: "compute#region", ID: fmt.Sprint(h.Sum64() >> 1), Name: name, Description: name, Status: "UP",
		SelfLink: api.RegionPath(project, name), Zones: []string{},
	}
}
