package controlplane

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// What Google's gcloud sends and expects beyond the Go clients (read from its
// --log-http): the seed's script and the commands after it depend on each of these.

func TestFingerprintInEitherBase64Alphabet(t *testing.T) {
	c := newTestServer(t, Config{})
	seedResources(c)
	// Find a backend service whose fingerprint has a character the alphabets spell
	// differently, as gcloud's apitools re-encodes it URL-safe.
	for i := 0; i < 200; i++ {
		bs := c.must("GET", g+"backendServices/cloudrun-backend", nil)
		fp := bs["fingerprint"].(string)
		urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace(fp)
		if urlSafe == fp {
			c.must("PATCH", g+"backendServices/cloudrun-backend", map[string]any{"fingerprint": fp, "description": strings.Repeat("x", i)})
			continue
		}
		c.must("PATCH", g+"backendServices/cloudrun-backend", map[string]any{"fingerprint": urlSafe, "description": "url-safe"})
		c.wantError("PATCH", g+"backendServices/cloudrun-backend", map[string]any{"fingerprint": urlSafe, "description": "stale"}, 412, "conditionNotMet")
		return
	}
	t.Fatal("no fingerprint with + or / in 200 tries")
}

func TestSameFingerprint(t *testing.T) {
	for _, tc := range []struct {
		supplied, current string
		same              bool
	}{
		{"eUSvY/NYwFE=", "eUSvY/NYwFE=", true},
		{"eUSvY_NYwFE=", "eUSvY/NYwFE=", true},
		{"eUSvY_NYwFE", "eUSvY/NYwFE=", true},
		{"eUSvY+NYwFE=", "eUSvY-NYwFE=", true},
		{"eUSvY_NYwFA=", "eUSvY/NYwFE=", false},
		{"not base64!", "eUSvY/NYwFE=", false},
		{"", "eUSvY/NYwFE=", false},
	} {
		if got := sameFingerprint(tc.supplied, tc.current); got != tc.same {
			t.Errorf("sameFingerprint(%q, %q) = %v", tc.supplied, tc.current, got)
		}
	}
}

// gcloud's `backend-services update --cache-mode=USE_ORIGIN_HEADERS` sends the whole
// resource with nulls for the TTLs that mode forbids.
func TestPatchNullsClearFields(t *testing.T) {
	c := newTestServer(t, Config{})
	seedResources(c)
	bs := c.must("GET", g+"backendServices/cloudrun-backend", nil)
	cdn := bs["cdnPolicy"].(map[string]any)
	cdn["cacheMode"], cdn["clientTtl"], cdn["defaultTtl"], cdn["maxTtl"] = "USE_ORIGIN_HEADERS", nil, nil, nil
	c.must("PATCH", g+"backendServices/cloudrun-backend", bs)
	got := c.must("GET", g+"backendServices/cloudrun-backend", nil)["cdnPolicy"].(map[string]any)
	if got["cacheMode"] != "USE_ORIGIN_HEADERS" || got["defaultTtl"] != nil || got["clientTtl"] != nil || got["maxTtl"] != nil {
		t.Errorf("cdnPolicy after the patch: %v", got)
	}
}

func TestAggregatedOperations(t *testing.T) {
	c := newTestServer(t, Config{})
	seedResources(c)
	agg := c.must("GET", "/compute/v1/projects/p/aggregated/operations", nil)
	items, ok := agg["items"].(map[string]any)
	if agg["kind"] != "compute#operationAggregatedList" || !ok {
		t.Fatalf("aggregated operations: %v", agg)
	}
	global := items["global"].(map[string]any)["operations"].([]any)
	regional := items["regions/us-central1"].(map[string]any)["operations"].([]any)
	if len(global) != 7 || len(regional) != 1 { // the seed's global inserts and add-backend; the NEG
		t.Errorf("%d global and %d regional operations", len(global), len(regional))
	}
	if op := regional[0].(map[string]any); op["kind"] != "compute#operation" || !strings.HasSuffix(op["targetLink"].(string), "/regions/us-central1/networkEndpointGroups/cloudrun-neg") {
		t.Errorf("regional operation %v", op)
	}
}

// gcloud's `url-maps list-cdn-cache-invalidations` filters and orders aggregated
// operations.
func TestAggregatedOperationsFilterOrderAndPages(t *testing.T) {
	c := newTestServer(t, Config{})
	seedResources(c)
	um := c.must("GET", g+"urlMaps/cloudrun-url-map", nil)
	c.must("POST", g+"urlMaps/cloudrun-url-map/invalidateCache", `{"path":"/images/*"}`)
	c.must("POST", g+"urlMaps/cloudrun-url-map/invalidateCache", `{"host":"example.com","path":"/a","cacheTags":["t1","t2"]}`)
	q := "?filter=" + url.QueryEscape("(operationType eq invalidateCache) (targetId eq "+um["id"].(string)+")") + "&orderBy=" + url.QueryEscape("creationTimestamp desc")
	agg := c.must("GET", "/compute/v1/projects/p/aggregated/operations"+q, nil)
	ops := agg["items"].(map[string]any)["global"].(map[string]any)["operations"].([]any)
	var descriptions []string
	for _, op := range ops {
		descriptions = append(descriptions, op.(map[string]any)["description"].(string))
	}
	if len(ops) != 2 || !slices.Contains(descriptions, "/images/*") || !slices.Contains(descriptions, "example.com/a cacheTags=t1,t2") {
		t.Errorf("invalidations: %v", descriptions)
	}
	page := c.must("GET", "/compute/v1/projects/p/aggregated/operations"+q+"&maxResults=1", nil)
	if page["nextPageToken"] != "1" || len(page["items"].(map[string]any)["global"].(map[string]any)["operations"].([]any)) != 1 {
		t.Errorf("first page: %v", page)
	}
	page = c.must("GET", "/compute/v1/projects/p/aggregated/operations"+q+"&maxResults=1&pageToken=1", nil)
	if page["nextPageToken"] != nil || len(page["items"].(map[string]any)["global"].(map[string]any)["operations"].([]any)) != 1 {
		t.Errorf("second page: %v", page)
	}
	c.wantError("GET", "/compute/v1/projects/p/aggregated/operations?orderBy=status", nil, 400, "invalid")
	c.wantError("GET", "/compute/v1/projects/p/global/operations?filter=name", nil, 400, "invalid")
	if list := c.must("GET", "/compute/v1/projects/p/global/operations?filter="+url.QueryEscape("operationType eq insert"), nil); len(list["items"].([]any)) != 6 {
		t.Errorf("global inserts: %d", len(list["items"].([]any)))
	}
}

func TestDeleteInUseNamesTheType(t *testing.T) {
	for collection, want := range map[string]string{
		"urlMaps": "url_map", "backendServices": "backend_service", "targetHttpsProxies": "target_https_proxy",
		"addresses": "address", "sslCertificates": "ssl_certificate", "networkEndpointGroups": "network_endpoint_group",
	} {
		if got := resourceType(collection); got != want {
			t.Errorf("resourceType(%s) = %s, want %s", collection, got, want)
		}
	}
}

func TestResourceManagerAndServiceUsage(t *testing.T) {
	c := newTestServer(t, Config{})
	p := c.must("GET", "/v1/projects/my-project", nil)
	if p["projectId"] != "my-project" || p["lifecycleState"] != "ACTIVE" || len(p["projectNumber"].(string)) != 12 {
		t.Errorf("project %v", p)
	}
	if again := c.must("GET", "/v1/projects/my-project", nil); again["projectNumber"] != p["projectNumber"] {
		t.Errorf("project number changed: %v then %v", p["projectNumber"], again["projectNumber"])
	}
	c.wantError("GET", "/v1/projects/Not_A_Project", nil, 403, "forbidden")
	if svc := c.must("GET", "/v1/projects/my-project/services/run.googleapis.com", nil); svc["state"] != "ENABLED" {
		t.Errorf("run.googleapis.com: %v", svc)
	}
	if svc := c.must("GET", "/v1/projects/my-project/services/bigquery.googleapis.com", nil); svc["state"] != "DISABLED" {
		t.Errorf("bigquery.googleapis.com: %v", svc)
	}
}

// gcloud reaches a region's Cloud Run endpoint at REGION-HOST, which it derives from
// the global endpoint's host, and lists every region on the global endpoint.
func TestCloudRunOnRegionalHosts(t *testing.T) {
	c := newTestServer(t, Config{})
	const knative = "/apis/serving.knative.dev/v1/namespaces/default/services"
	port := c.srv.URL[strings.LastIndex(c.srv.URL, ":")+1:]
	onHost := func(method, host, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	for _, region := range []string{"us-central1", "europe-west1"} {
		if code, out := onHost("POST", region+"-127.0.0.1:"+port, knative, seedService); code != 200 {
			t.Fatalf("create in %s: %d %v", region, code, out)
		}
	}
	code, svc := onHost("GET", "europe-west1-127.0.0.1:"+port, knative+"/my-global-app", "")
	labels, _ := svc["metadata"].(map[string]any)["labels"].(map[string]any)
	annotations, _ := svc["metadata"].(map[string]any)["annotations"].(map[string]any)
	if code != 200 || labels[locationLabel] != "europe-west1" || annotations["serving.knative.dev/creator"] != "meridian" {
		t.Errorf("regional get: %d %v", code, svc)
	}
	traffic := svc["spec"].(map[string]any)["traffic"].([]any)
	if len(traffic) != 1 || traffic[0].(map[string]any)["latestRevision"] != true || traffic[0].(map[string]any)["percent"] != float64(100) {
		t.Errorf("default traffic %v", traffic)
	}
	// The global endpoint (no region in the host, or locations/-) lists every region.
	for _, list := range []func() (int, map[string]any){
		func() (int, map[string]any) { return onHost("GET", "127.0.0.1:"+port, knative, "") },
		func() (int, map[string]any) { return c.do("GET", "/v1/projects/default/locations/-/services", nil) },
	} {
		code, all := list()
		items, _ := all["items"].([]any)
		if code != 200 || len(items) != 2 {
			t.Errorf("global list: %d %v", code, all)
		}
	}
	if code, out := onHost("GET", "127.0.0.1:"+port, knative+"/my-global-app", ""); code != 400 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "region is required") {
		t.Errorf("a single service on the global endpoint: %d %v", code, out)
	}
	code, revs := onHost("GET", "127.0.0.1:"+port, "/apis/serving.knative.dev/v1/namespaces/default/revisions", "")
	if items, _ := revs["items"].([]any); code != 200 || len(items) != 2 {
		t.Errorf("global revisions list: %d %v", code, revs)
	}
}

func TestRegionOfHost(t *testing.T) {
	for host, want := range map[string]string{
		"us-central1-127.0.0.1:9610":                "us-central1",
		"europe-west1-meridian.example.com":         "europe-west1",
		"northamerica-northeast1-api.internal:80":   "northamerica-northeast1",
		"us-central1-run.googleapis.com":            "us-central1",
		"127.0.0.1:9610":                            allRegions,
		"run.googleapis.com":                        allRegions,
		"[::1]:9610":                                allRegions,
		"us-central1":                               allRegions,
		"meridian-api.example.com":                  allRegions,
		"asia-southeast1-[::1]:9610":                "asia-southeast1",
		"UPPER-CASE1-host":                          allRegions,
		"me-central2-" + strings.Repeat("a", 300):   "me-central2",
		"africa-south1-africa-south1-host.internal": "africa-south1",
	} {
		if got := regionOfHost(host); got != want {
			t.Errorf("regionOfHost(%q) = %q, want %q", host, got, want)
		}
	}
}

// gcloud, with the API as its proxy, asks for a tunnel to any Google API it calls that
// Meridian does not serve; the refusal's status line says why.
func TestConnectIsRefusedWithAReason(t *testing.T) {
	for _, token := range []string{"", "secret"} {
		c := newTestServer(t, Config{Token: token})
		conn, err := net.Dial("tcp", strings.TrimPrefix(c.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("CONNECT logging.googleapis.com:443 HTTP/1.1\r\nHost: logging.googleapis.com:443\r\n\r\n"))
		status, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || status != "HTTP/1.1 501 Meridian serves Compute Engine, Cloud Run, Resource Manager and Service Usage, not logging.googleapis.com:443\r\n" {
			t.Errorf("token %q: CONNECT answered %q, %v", token, status, err)
		}
	}
}

func TestRegions(t *testing.T) {
	c := newTestServer(t, Config{})
	list := c.must("GET", "/compute/v1/projects/p/regions", nil)
	var names []string
	for _, r := range list["items"].([]any) {
		names = append(names, r.(map[string]any)["name"].(string))
	}
	if list["kind"] != "compute#regionList" || !slices.Contains(names, "us-central1") || !slices.Contains(names, "europe-west1") || !slices.IsSorted(names) {
		t.Errorf("regions %v", names)
	}
	r := c.must("GET", "/compute/v1/projects/p/regions/europe-west1", nil)
	if r["status"] != "UP" || r["selfLink"] != c.srv.URL+"/compute/v1/projects/p/regions/europe-west1" {
		t.Errorf("region %v", r)
	}
	c.wantError("GET", "/compute/v1/projects/p/regions/mars-north1", nil, 404, "notFound")
}

func TestServiceIAMMethods(t *testing.T) {
	c := newTestServer(t, Config{})
	const v1 = "/v1/projects/default/locations/us-central1/services/my-global-app"
	// Asked before the service exists (gcloud run deploy does).
	perms := c.must("POST", v1+":testIamPermissions", `{"permissions":["run.services.setIamPolicy"]}`)
	if got := perms["permissions"].([]any); len(got) != 1 || got[0] != "run.services.setIamPolicy" {
		t.Errorf("testIamPermissions: %v", perms)
	}
	c.wantError("GET", v1+":getIamPolicy", nil, 404, "notFound")
	c.must("POST", runBase, seedService)
	policy := c.must("GET", v1+":getIamPolicy", nil)
	if b := policy["bindings"].([]any)[0].(map[string]any); b["role"] != "roles/run.invoker" || b["members"].([]any)[0] != "allUsers" {
		t.Errorf("policy %v", policy)
	}
	c.must("POST", v1+":setIamPolicy", `{"policy":{"bindings":[{"role":"roles/run.invoker","members":["allUsers"]}]}}`)
	c.wantError("POST", v1+":setIamPolicy", `{"policy":{"bindings":[{"role":"roles/run.invoker","members":["user:a@example.com"]}]}}`, 400, "failedPrecondition")
	c.wantError("POST", v1+":setIamPolicy", `{"policy":`, 400, "invalid")
	c.wantError("POST", v1+":frobnicate", `{}`, 404, "notFound")
}

// A batch as gcloud's apitools writes it: LF line ends, parts without Content-Length.
const gcloudBatch = "--===============123==\n" +
	"Content-Type: application/http\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\nContent-ID: <abc+0>\n\n" +
	"GET /compute/v1/projects/p/global/backendServices/cloudrun-backend?alt=json HTTP/1.1\nContent-Type: application/json\nMIME-Version: 1.0\ncontent-length: 0\nHost: HOST\n\n\n" +
	"--===============123==\n" +
	"Content-Type: application/http\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\nContent-ID: <abc+1>\n\n" +
	"PATCH /compute/v1/projects/p/global/urlMaps/cloudrun-url-map?alt=json HTTP/1.1\nContent-Type: application/json\nMIME-Version: 1.0\nHost: HOST\n\n" +
	`{"description": "from a batch"}` + "\n" +
	"--===============123==\n" +
	"Content-Type: application/http\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\nContent-ID: <abc+2>\n\n" +
	"DELETE /compute/v1/projects/p/global/urlMaps/nope?alt=json HTTP/1.1\nContent-Type: application/json\nHost: HOST\n\n\n" +
	"--===============123==--\n"

func TestBatch(t *testing.T) {
	c := newTestServer(t, Config{})
	seedResources(c)
	host := strings.TrimPrefix(c.srv.URL, "http://")
	resp, err := http.Post(c.srv.URL+"/batch/compute/v1", `multipart/mixed; boundary="===============123=="`, strings.NewReader(strings.ReplaceAll(gcloudBatch, "HOST", host)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("batch answered %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	want := []struct {
		id     string
		status int
		body   string
	}{
		{"<response-abc+0>", 200, `"name":"cloudrun-backend"`},
		{"<response-abc+1>", 200, `"operationType":"patch"`},
		{"<response-abc+2>", 404, `"reason":"notFound"`},
	}
	for i, w := range want {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		r, err := http.ReadResponse(bufio.NewReader(part), nil)
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		body, _ := io.ReadAll(r.Body)
		if part.Header.Get("Content-ID") != w.id || r.StatusCode != w.status || !strings.Contains(string(body), w.body) {
			t.Errorf("part %d: %s %d %s", i, part.Header.Get("Content-ID"), r.StatusCode, body)
		}
		if w.status == 200 && !strings.Contains(string(body), c.srv.URL+"/compute/v1/") {
			t.Errorf("part %d renders links under another host: %s", i, body)
		}
	}
	if um := c.must("GET", g+"urlMaps/cloudrun-url-map", nil); um["description"] != "from a batch" {
		t.Errorf("the batch's patch did not apply: %v", um)
	}
	for _, bad := range []struct{ contentType, body string }{
		{"application/json", "{}"},
		{`multipart/mixed; boundary="b"`, "--b\nContent-Type: application/http\n\nGET /v1/projects/p HTTP/1.1\n\n\n--b--\n"},
		{`multipart/mixed; boundary="b"`, "--b\nContent-Type: application/http\n\nnot a request\n--b--\n"},
		{`multipart/mixed; boundary="b"`, "--b\nContent-Type: application/http\n\nGET /batch/compute/v1 HTTP/1.1\n\n\n--b--\n"},
	} {
		resp, err := http.Post(c.srv.URL+"/batch/compute/v1", bad.contentType, strings.NewReader(bad.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("batch %q: %d, want 400", bad.body, resp.StatusCode)
		}
	}
}

func FuzzParseBatch(f *testing.F) {
	f.Add(`multipart/mixed; boundary="===============123=="`, gcloudBatch)
	f.Add(`multipart/mixed; boundary=b`, "--b\n\nGET /compute/v1/x HTTP/1.1\n\n--b--")
	f.Add(`multipart/mixed; boundary=b`, "--b\r\nContent-ID: <x+1>\r\n\r\nPOST /compute/v1/projects/p/global/urlMaps HTTP/1.1\r\nHost: h\r\n\r\n{}\r\n--b--\r\n")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		calls, err := parseBatch(contentType, strings.NewReader(body))
		if err != nil {
			return
		}
		for _, c := range calls {
			if !strings.HasPrefix(c.req.URL.Path, "/compute/v1/") {
				t.Fatalf("a call outside Compute's API got through: %q", c.req.URL.Path)
			}
		}
	})
}

// base64 of every length decodes the same in both alphabets.
func FuzzSameFingerprint(f *testing.F) {
	f.Add([]byte{0x79, 0x44, 0xaf, 0x63, 0xf3, 0x58, 0xc0, 0x51})
	f.Fuzz(func(t *testing.T, b []byte) {
		std, url := base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b)
		if !sameFingerprint(url, std) || !sameFingerprint(std, std) || !sameFingerprint(base64.RawURLEncoding.EncodeToString(b), std) {
			t.Fatalf("%x: %q and %q differ", b, url, std)
		}
	})
}
