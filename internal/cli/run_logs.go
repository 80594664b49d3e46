package cli

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// runLogsCommand is `run services logs read`: what a service's instances wrote, from
// Cloud Logging's entries.list, with gcloud's filter. Each line is gcloud's (time, then
// the text) with the instance between them.
func (a *app) runLogsCommand() *cobra.Command {
	var f *runFlags
	var logFilter, order string
	var limit int
	var freshness string
	cmd := a.command("read SERVICE", "Read the logs of a Cloud Run service.", exactArgs("SERVICE"), func(s *session, args []string) error {
		region := f.regionName()
		if region == "" {
			return fmt.Errorf("Missing required argument [--region]: You must specify a region. Either use the `--region` flag or set $CLOUDSDK_RUN_REGION.")
		}
		if order != "desc" && order != "asc" {
			return fmt.Errorf("argument --order: Invalid choice: '%s'. Valid choices are [asc, desc].", order)
		}
		fresh, err := parseFreshness(freshness)
		if err != nil {
			return err
		}
		if limit < 0 {
			return fmt.Errorf("argument --limit: Value must be greater than or equal to 0; received: %d", limit)
		}
		filters := []string{}
		if logFilter != "" {
			filters = append(filters, logFilter)
		}
		filters = append(filters, "resource.type = cloud_run_revision", "resource.labels.service_name = "+quoteLogValue(args[0]),
			"resource.labels.location = "+quoteLogValue(region), "severity >= DEFAULT")
		if order == "desc" && !strings.Contains(logFilter, "timestamp") {
			filters = append(filters, fmt.Sprintf("timestamp>=%q", time.Now().Add(-fresh).UTC().Format(time.RFC3339Nano)))
		}
		pageSize := 1000
		if limit > 0 {
			pageSize = min(limit, 1000)
		}
		req := map[string]any{"resourceNames": []string{"projects/" + s.project}, "filter": "(" + strings.Join(filters, ") AND (") + ")",
			"orderBy": "timestamp " + order, "pageSize": pageSize}
		var lines []string
		for {
			var resp struct {
				Entries []struct {
					LogName     string            `json:"logName"`
					TextPayload string            `json:"textPayload"`
					Timestamp   string            `json:"timestamp"`
					Labels      map[string]string `json:"labels"`
				} `json:"entries"`
				NextPageToken string `json:"nextPageToken"`
			}
			if err := s.client.do(s.ctx, http.MethodPost, "v2/entries:list", req, &resp); err != nil {
				return err
			}
			for _, e := range resp.Entries {
				at, err := time.Parse(time.RFC3339Nano, e.Timestamp)
				if err != nil {
					continue
				}
				instance := e.Labels["instanceId"]
				if instance == "" {
					instance = "runtime" // the runtime's lines about a revision
				}
				lines = append(lines, fmt.Sprintf("%s %s %s", at.UTC().Format("2006-01-02 15:04:05"), instance, e.TextPayload))
			}
			if resp.NextPageToken == "" || (limit > 0 && len(lines) >= limit) {
				break
			}
			req["pageToken"] = resp.NextPageToken
		}
		if limit > 0 && len(lines) > limit {
			lines = lines[:limit]
		}
		// gcloud prints what it read in reverse (with the default desc order, the
		// newest lines oldest first).
		for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
			lines[i], lines[j] = lines[j], lines[i]
		}
		for _, l := range lines {
			fmt.Fprintln(s.stdout, l)
		}
		return nil
	})
	f = a.addRunFlags(cmd.Flags())
	cmd.Flags().StringVar(&logFilter, "log-filter", "", "Filter expression that specifies the log entries to return (Cloud Logging's query language).")
	cmd.Flags().IntVar(&limit, "limit", 0, "Maximum number of entries to read (0: all).")
	cmd.Flags().StringVar(&order, "order", "desc", "Ordering of returned log entries based on timestamp field: desc or asc.")
	cmd.Flags().StringVar(&freshness, "freshness", "1d", "Return entries that are not older than this value (with desc ordering and no timestamp in --log-filter), such as 30m, 2h or 1d.")
	return cmd
}

// parseFreshness parses gcloud's durations: a number and s, m, h or d (or a Go
// duration).
func parseFreshness(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n && days >= 0 && days < 100000 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("argument --freshness: Failed to parse duration: %q; use a number and s, m, h or d, such as 1d.", v)
	}
	return d, nil
}

// quoteLogValue quotes a value for a Cloud Logging filter.
func quoteLogValue(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}
