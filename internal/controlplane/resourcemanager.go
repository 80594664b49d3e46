package controlplane

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"

	"meridian/api"
)

// Cloud Resource Manager v1's projects.get, which gcloud calls before Cloud Run commands
// (to compare a YAML's namespace with the project's number). Meridian's projects are
// implicit: any valid project ID exists, with a stable number derived from it.

type project struct {
	ProjectNumber  string `json:"projectNumber"`
	ProjectID      string `json:"projectId"`
	LifecycleState string `json:"lifecycleState"`
	Name           string `json:"name"`
	CreateTime     string `json:"createTime"`
}

// projectNumber is the 12-digit number GCP gives a project; Meridian derives it from the
// ID so that every API process answers the same without stored state.
func projectNumber(id string) string {
	h := fnv.New64a()
	h.Write([]byte(id))
	return strconv.FormatUint(100000000000+h.Sum64()%900000000000, 10)
}

func (s *Server) serveProject(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("project")
	if r.Method != http.MethodGet {
		writeError(w, &apiError{405, "httpMethodNotAllowed", "Method " + r.Method + " is not allowed on " + r.URL.Path})
		return
	}
	if err := api.ValidateName("project", id); err != nil {
		writeError(w, &apiError{403, "forbidden", fmt.Sprintf("The caller does not have permission: '%s' is not a project ID.", id)})
		return
	}
	writeJSON(w, http.StatusOK, project{
		ProjectNumber: projectNumber(id), ProjectID: id, LifecycleState: "ACTIVE", Name: id,
		CreateTime: "2026-01-01T00:00:00Z",
	})
}

// serveServiceUsage answers Service Usage v1's services.get, which gcloud asks before
// `run deploy` to check that the Cloud Run API is enabled: in Meridian every API it
// serves is.
func (s *Server) serveServiceUsage(w http.ResponseWriter, r *http.Request) {
	id, service := r.PathValue("project"), r.PathValue("service")
	if err := api.ValidateName("project", id); err != nil {
		writeError(w, err)
		return
	}
	state := "DISABLED"
	if servedAPIs[service] {
		state = "ENABLED"
	}
	parent := "projects/" + projectNumber(id)
	writeJSON(w, http.StatusOK, map[string]any{
		"name": parent + "/services/" + service, "parent": parent, "state": state,
		"config": map[string]string{"name": service, "title": service},
	})
}

// servedAPIs are the Google APIs whose calls Meridian answers.
var servedAPIs = map[string]bool{
	"compute.googleapis.com": true, "run.googleapis.com": true,
	"cloudresourcemanager.googleapis.com": true, "serviceusage.googleapis.com": true,
}
