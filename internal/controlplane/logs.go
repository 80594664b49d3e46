package controlplane

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"meridian/api"
)

// Cloud Logging's entries.list (logging.googleapis.com/v2/entries:list), over what
// region runtimes keep of their services' output (api.LogLine batches): what
// `gcloud run services logs read` and `meridian run services logs read` call. Entries
// are Cloud Run's: resource type cloud_run_revision, logs run.googleapis.com/stdout and
// stderr, and run.googleapis.com/varlog/system for the runtime's lines about a
// revision.

type entriesListRequest struct {
	ResourceNames []string `json:"resourceNames"`
	ProjectIDs    []string `json:"projectIds"` // deprecated form of resourceNames
	Filter        string   `json:"filter"`
	OrderBy       string   `json:"orderBy"`
	PageSize      int      `json:"pageSize"`
	PageToken     string   `json:"pageToken"`
}

// LogEntry is a Cloud Logging entry, the part Meridian fills.
type LogEntry struct {
	LogName          string            `json:"logName"`
	Resource         logResource       `json:"resource"`
	TextPayload      string            `json:"textPayload"`
	Timestamp        string            `json:"timestamp"`
	ReceiveTimestamp string            `json:"receiveTimestamp"`
	Severity         string            `json:"severity"`
	InsertID         string            `json:"insertId"`
	Labels           map[string]string `json:"labels,omitempty"`
}

type logResource struct {
	Type   string            `json:"type"`
	Labels map[string]string `json:"labels"`
}

const maxLogPageSize = 1000

func (s *Server) serveEntriesList(w http.ResponseWriter, r *http.Request) {
	var req entriesListRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, errInvalid("Invalid JSON payload received: %v", err))
		return
	}
	for _, p := range req.ProjectIDs {
		req.ResourceNames = append(req.ResourceNames, "projects/"+p)
	}
	if len(req.ResourceNames) == 0 {
		writeError(w, errInvalid("resourceNames: at least one resource name is required, such as projects/PROJECT."))
		return
	}
	var projects []string
	for _, name := range req.ResourceNames {
		p, ok := strings.CutPrefix(name, "projects/")
		if !ok || api.ValidateName("resourceNames", p) != nil || strings.Contains(p, "/") {
			writeError(w, errInvalid("resourceNames: %q is not a resource name Meridian keeps logs for: use projects/PROJECT.", name))
			return
		}
		projects = append(projects, p)
	}
	filter, err := parseLogFilter(req.Filter)
	if err != nil {
		writeError(w, errInvalid("filter: %v", err))
		return
	}
	desc := false
	switch strings.ToLower(strings.Join(strings.Fields(req.OrderBy), " ")) {
	case "", "timestamp asc", "timestamp":
	case "timestamp desc":
		desc = true
	default:
		writeError(w, errInvalid("orderBy: %q is not supported: use \"timestamp asc\" or \"timestamp desc\".", req.OrderBy))
		return
	}
	size := req.PageSize
	if size <= 0 || size > maxLogPageSize {
		size = maxLogPageSize
	}
	offset := 0
	if req.PageToken != "" {
		if offset, err = strconv.Atoi(req.PageToken); err != nil || offset < 0 {
			writeError(w, errInvalid("pageToken: %q is not a page token this API gave.", req.PageToken))
			return
		}
	}
	var entries []LogEntry
	for _, project := range projects {
		kvs, _, err := s.store.ListAll(r.Context(), api.LogsPrefix+"projects/"+project+"/")
		if err != nil {
			writeError(w, err)
			return
		}
		for _, kv := range kvs {
			region, service, ok := logBatchService(kv.Key)
			if !ok {
				continue
			}
			var lines []api.LogLine
			if json.Unmarshal(kv.Value, &lines) != nil {
				continue
			}
			for i, l := range lines {
				e := logEntry(project, region, service, l, fmt.Sprintf("%x-%d", kv.ModRevision, i))
				if filter.match(e.fields()) {
					entries = append(entries, e)
				}
			}
		}
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if desc {
			return entries[i].Timestamp > entries[j].Timestamp
		}
		return entries[i].Timestamp < entries[j].Timestamp
	})
	resp := struct {
		Entries       []LogEntry `json:"entries,omitempty"`
		NextPageToken string     `json:"nextPageToken,omitempty"`
	}{}
	if offset < len(entries) {
		end := min(offset+size, len(entries))
		resp.Entries = entries[offset:end]
		if end < len(entries) {
			resp.NextPageToken = strconv.Itoa(end)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// logBatchService is the region and service of a log batch's key.
func logBatchService(key string) (region, service string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(key, api.LogsPrefix), "/")
	if len(parts) != 7 || parts[0] != "projects" || parts[2] != "regions" || parts[4] != "services" {
		return "", "", false
	}
	return parts[3], parts[5], true
}

// logEntry is a kept line as Cloud Run's entry. Timestamps are RFC 3339 in UTC with
// nine digits of fraction, so they sort as strings.
func logEntry(project, region, service string, l api.LogLine, id string) LogEntry {
	log := "run.googleapis.com/varlog/system"
	if l.Stream == "stdout" || l.Stream == "stderr" {
		log = "run.googleapis.com/" + l.Stream
	}
	e := LogEntry{
		LogName: "projects/" + project + "/logs/" + url.PathEscape(log),
		Resource: logResource{Type: "cloud_run_revision", Labels: map[string]string{
			"project_id": project, "location": region, "service_name": service, "configuration_name": service, "revision_name": l.Revision}},
		TextPayload: l.Text, Timestamp: l.Time, ReceiveTimestamp: l.Time, Severity: "DEFAULT", InsertID: id,
	}
	if l.Stream == "stderr" {
		e.Severity = "ERROR"
	}
	if l.Instance != "" {
		e.Labels = map[string]string{"instanceId": l.Instance}
	}
	return e
}

// fields are the entry's values a filter can name.
func (e LogEntry) fields() logFields {
	f := logFields{"logName": e.LogName, "textPayload": e.TextPayload, "timestamp": e.Timestamp, "receiveTimestamp": e.ReceiveTimestamp,
		"severity": e.Severity, "insertId": e.InsertID, "resource.type": e.Resource.Type}
	for k, v := range e.Resource.Labels {
		f["resource.labels."+k] = v
	}
	for k, v := range e.Labels {
		f["labels."+k] = v
	}
	return f
}
