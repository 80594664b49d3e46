package controlplane

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"meridian/api"
	"meridian/internal/store"
)

// The filter gcloud's `run services logs read` sends, as it writes it.
const gcloudLogsFilter = "(resource.type = cloud_run_revision \n) AND (resource.labels.service_name = app \n) AND (resource.labels.location = us-central1 \n) AND (severity >= DEFAULT \n) AND (timestamp>=\"2026-12-01T00:00:00.5Z\")"

func TestLogFilter(t *testing.T) {
	e := logEntry("p", "us-central1", "app", api.LogLine{Time: "2026-12-07T01:02:03.000000000Z", Revision: "app-1", Instance: "abc", Stream: "stderr", Text: "Served GET /x"}, "1").fields()
	for filter, want := range map[string]bool{
		"":               true,
		gcloudLogsFilter: true,
		strings.Replace(gcloudLogsFilter, "service_name = app", "service_name = other", 1): false,
		strings.Replace(gcloudLogsFilter, "2026-12-01", "2026-12-08", 1):                   false,
		`severity>=ERROR`:                                         true,
		`severity>WARNING AND severity<=ERROR`:                    true,
		`severity>=CRITICAL`:                                      false,
		`textPayload:"get /X"`:                                    true,
		`textPayload=~"^Served (GET|POST)"`:                       true,
		`textPayload!~"Served"`:                                   false,
		`labels.instanceId = abc`:                                 true,
		`NOT labels.instanceId = abc`:                             false,
		`-labels.instanceId = abc`:                                false,
		`labels.missing != x`:                                     true,
		`logName = "projects/p/logs/run.googleapis.com%2Fstderr"`: true,
		// OR binds tighter than AND.
		`resource.labels.location = europe-west1 OR resource.labels.location = us-central1 AND severity = ERROR`: true,
		`(resource.labels.location = europe-west1 OR severity = INFO) AND severity = ERROR`:                      false,
		`served`:  true, // a bare value: anywhere
		`nothere`: false,
	} {
		f, err := parseLogFilter(filter)
		if err != nil {
			t.Errorf("%q: %v", filter, err)
			continue
		}
		if got := f.match(e); got != want {
			t.Errorf("%q matched %v, want %v", filter, got, want)
		}
	}
	for _, bad := range []string{`(a = b`, `a = `, `a = b)`, `timestamp >= yesterday`, `severity >= LOUD`, `a =~ "("`, `"open`, `a !! b`, `AND a = b`, `a = b AND`, `(a = b AND)`, strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100)} {
		if _, err := parseLogFilter(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseLogFilter(f *testing.F) {
	for _, seed := range []string{gcloudLogsFilter, `NOT (a:b OR -c=~"d") e`, `timestamp < "2026-01-01T00:00:00Z"`, `"x\"y"`} {
		f.Add(seed)
	}
	e := logEntry("p", "r", "s", api.LogLine{Time: "2026-12-07T01:02:03.000000000Z", Text: "t"}, "1").fields()
	f.Fuzz(func(t *testing.T, s string) {
		if filter, err := parseLogFilter(s); err == nil && filter != nil {
			filter.match(e)
		}
	})
}

// TestEntriesList answers Cloud Logging's entries.list from the batches region runtimes
// keep: filtered, ordered and paged as gcloud reads them.
func TestEntriesList(t *testing.T) {
	c := newTestServer(t, Config{})
	put := func(region, service, key string, lines ...api.LogLine) {
		data, _ := json.Marshal(lines)
		if _, err := c.st.Apply(context.Background(), store.Change{Puts: map[string][]byte{api.ServiceLogsPrefix("default", region, service) + key: data}}); err != nil {
			t.Fatal(err)
		}
	}
	put("us-central1", "app", "1", api.LogLine{Time: "2026-12-07T01:00:01.000000000Z", Revision: "app-1", Instance: "i1", Stream: "stdout", Text: "one"},
		api.LogLine{Time: "2026-12-07T01:00:02.000000000Z", Revision: "app-1", Stream: "", Text: "instance i1 listening"})
	put("us-central1", "app", "2", api.LogLine{Time: "2026-12-07T01:00:03.000000000Z", Revision: "app-1", Instance: "i2", Stream: "stderr", Text: "three"})
	put("europe-west1", "app", "1", api.LogLine{Time: "2026-12-07T01:00:04.000000000Z", Instance: "e1", Stream: "stdout", Text: "elsewhere"})
	put("us-central1", "other", "1", api.LogLine{Time: "2026-12-07T01:00:05.000000000Z", Instance: "o1", Stream: "stdout", Text: "other"})

	out := c.must("POST", "/v2/entries:list", map[string]any{"resourceNames": []string{"projects/default"}, "filter": gcloudLogsFilter, "orderBy": "timestamp desc", "pageSize": 2})
	entries := out["entries"].([]any)
	if len(entries) != 2 || out["nextPageToken"] == nil {
		t.Fatalf("first page: %v", out)
	}
	first := entries[0].(map[string]any)
	if first["textPayload"] != "three" || first["logName"] != "projects/default/logs/run.googleapis.com%2Fstderr" || first["severity"] != "ERROR" ||
		first["labels"].(map[string]any)["instanceId"] != "i2" || first["resource"].(map[string]any)["labels"].(map[string]any)["revision_name"] != "app-1" {
		t.Errorf("newest entry: %v", first)
	}
	if second := entries[1].(map[string]any); second["logName"] != "projects/default/logs/run.googleapis.com%2Fvarlog%2Fsystem" {
		t.Errorf("the runtime's line: %v", second)
	}
	out = c.must("POST", "/v2/entries:list", map[string]any{"resourceNames": []string{"projects/default"}, "filter": gcloudLogsFilter, "orderBy": "timestamp desc", "pageSize": 2, "pageToken": out["nextPageToken"]})
	if entries := out["entries"].([]any); len(entries) != 1 || entries[0].(map[string]any)["textPayload"] != "one" || out["nextPageToken"] != nil {
		t.Errorf("second page: %v", out)
	}
	c.wantError("POST", "/v2/entries:list", map[string]any{"resourceNames": []string{"projects/default"}, "filter": "(a = "}, 400, "invalid")
	c.wantError("POST", "/v2/entries:list", map[string]any{"resourceNames": []string{"organizations/1"}}, 400, "invalid")
	c.wantError("POST", "/v2/entries:list", map[string]any{"resourceNames": []string{"projects/default"}, "orderBy": "severity"}, 400, "invalid")
}
