package controlplane

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"

	"meridian/api"
	"meridian/internal/router"
	"meridian/internal/store"
)

// Keys in the store.
func resKey(path string) string             { return api.ResourceKey(path) }
func refPrefix(target string) string        { return "refs/" + target + "/" }
func refKey(target, referrer string) string { return refPrefix(target) + referrer }
func opKey(scope, name string) string       { return "ops/" + scope + "/operations/" + name }
func ipKey(ip string) string                { return "ips/" + ip }
func bindKey(ip, portRange string) string   { return "binds/" + ip + "/" + portRange }
func pathOf(k *kind, rt route, name string) api.ResourcePath {
	return api.ResourcePath{Project: rt.project, Region: rt.region, Collection: k.collection, Name: name}
}

// errRetry marks a transaction that lost a race and may simply be tried again.
var errRetry = errors.New("controlplane: concurrent modification, retry")

// raceBudget bounds how long a write that keeps losing races is tried again.
const raceBudget = 5 * time.Second

// retryRaces runs try until it ends with something other than errRetry. A write that
// lost a race with another writer (the region runtime writing a service's status, a
// changed resource, a just-taken address) reads again and retries, backing off from
// a millisecond to 100 ms with jitter, as a Kubernetes update without a
// resourceVersion does: the caller set no precondition, so its write goes through.
// Only contention that outlasts raceBudget is reported, as 409 conflict on name.
func retryRaces(ctx context.Context, name string, try func() (any, error)) (any, error) {
	deadline := time.Now().Add(raceBudget)
	wait := time.Millisecond
	for {
		out, err := try()
		if !errors.Is(err, errRetry) {
			return out, err
		}
		if time.Now().After(deadline) {
			return nil, &apiError{409, "conflict", fmt.Sprintf("Resource '%s' was modified concurrently. Try again.", name)}
		}
		t := time.NewTimer(wait/2 + mrand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

func (s *Server) get(ctx context.Context, k *kind, rt route) (any, error) {
	path := pathOf(k, rt, rt.name)
	res, _, err := s.load(ctx, k, path)
	if err != nil {
		return nil, err
	}
	return s.decorate(ctx, res)
}

// load reads a stored resource and its revision.
func (s *Server) load(ctx context.Context, k *kind, path api.ResourcePath) (api.Resource, int64, error) {
	kv, err := s.store.Get(ctx, resKey(path.String()))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, errNotFound(path.String())
	}
	if err != nil {
		return nil, 0, err
	}
	res := k.new()
	if err := json.Unmarshal(kv.Value, res); err != nil {
		return nil, 0, fmt.Errorf("stored %s is corrupt: %w", path, err)
	}
	return res, kv.ModRevision, nil
}

func (s *Server) insert(ctx context.Context, k *kind, rt route, r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return retryRaces(ctx, rt.name, func() (any, error) {
		return s.tryInsert(ctx, k, rt, body, r.URL.Query().Get("requestId"))
	})
}

func (s *Server) tryInsert(ctx context.Context, k *kind, rt route, body []byte, requestID string) (any, error) {
	res := k.new()
	if err := decodeStrict(body, res, "resource"); err != nil {
		return nil, err
	}
	m := res.ResourceMeta()
	if err := api.ValidateName("resource.name", m.Name); err != nil {
		return nil, err
	}
	path := pathOf(k, rt, m.Name)
	m.ID, m.CreationTimestamp, m.SelfLink = newID(), s.timestamp(), path.String()
	res.SetDefaults()
	setRegion(res, rt)
	change := store.Change{Puts: map[string][]byte{}}
	if err := s.prepare(ctx, rt, res, path, &change); err != nil {
		return nil, err
	}
	if err := res.Validate(); err != nil {
		return nil, err
	}
	targets, err := s.resolveRefs(ctx, res, rt)
	if err != nil {
		return nil, err
	}
	if err := deepCheck(res); err != nil {
		return nil, err
	}
	change.Conditions = append(change.Conditions, store.Condition{Key: resKey(path.String()), Want: store.Absent})
	for _, t := range targets {
		change.Conditions = append(change.Conditions, store.Condition{Key: resKey(t), Want: store.Present})
		change.Puts[refKey(t, path.String())] = nil
	}
	return s.commit(ctx, change, res, path, "insert", requestID)
}

// commit stores the resource with a fresh fingerprint, records the operation and
// applies the change, translating a failed condition into GCP's error.
func (s *Server) commit(ctx context.Context, change store.Change, res api.Resource, path api.ResourcePath, opType, requestID string) (any, error) {
	setFingerprint(res)
	data, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	change.Puts[resKey(path.String())] = data
	op := s.newOperation(path, opType, res.ResourceMeta().ID, requestID)
	if err := putOperation(&change, op); err != nil {
		return nil, err
	}
	if _, err := s.store.Apply(ctx, change); err != nil {
		return nil, conditionError(err, path)
	}
	return op, nil
}

// conditionError explains which precondition of a write failed.
func conditionError(err error, path api.ResourcePath) error {
	var cf *store.ConditionFailed
	if !errors.As(err, &cf) {
		return err
	}
	key := cf.Condition.Key
	switch {
	case key == resKey(path.String()) && cf.Condition.Want == store.Absent:
		return errAlreadyExists(path.String())
	case key == resKey(path.String()):
		return errRetry // changed or deleted since we read it
	case strings.HasPrefix(key, "refs/") && cf.Found != nil:
		return errInUse(path, strings.TrimPrefix(cf.Found.Key, key))
	case strings.HasPrefix(key, api.ResourcesPrefix) && cf.Condition.Want == store.Present:
		return errNotFound(strings.TrimPrefix(key, api.ResourcesPrefix))
	case strings.HasPrefix(key, "ips/") || strings.HasPrefix(key, "binds/"):
		if cf.Found != nil && cf.Condition.Want == store.Absent {
			if string(cf.Found.Value) == path.String() {
				// The resource holds the claim itself: it exists (an insert retried).
				return errAlreadyExists(path.String())
			}
			return claimError(key, string(cf.Found.Value))
		}
		return errRetry
	}
	return errRetry
}

func claimError(key, owner string) error {
	if ip, ok := strings.CutPrefix(key, "ips/"); ok {
		return &apiError{400, "ipInUseByAnotherResource", fmt.Sprintf("IP address '%s' is already reserved by '%s'.", ip, owner)}
	}
	return &apiError{400, "ipInUseByAnotherResource", fmt.Sprintf("The IP address and port range '%s' are already used by '%s'.", strings.TrimPrefix(key, "binds/"), owner)}
}

func (s *Server) delete(ctx context.Context, k *kind, rt route, r *http.Request) (any, error) {
	return retryRaces(ctx, rt.name, func() (any, error) {
		return s.tryDelete(ctx, k, rt, r.URL.Query().Get("requestId"))
	})
}

func (s *Server) tryDelete(ctx context.Context, k *kind, rt route, requestID string) (any, error) {
	path := pathOf(k, rt, rt.name)
	res, rev, err := s.load(ctx, k, path)
	if err != nil {
		return nil, err
	}
	change := store.Change{
		Conditions: []store.Condition{
			{Key: resKey(path.String()), Want: rev},
			{Key: refPrefix(path.String()), Want: store.Absent, Prefix: true},
		},
		Puts:    map[string][]byte{},
		Deletes: []string{resKey(path.String())},
	}
	for _, ref := range res.References() {
		change.Deletes = append(change.Deletes, refKey(*ref.Value, path.String()))
	}
	if err := s.releaseClaims(ctx, res, path, &change); err != nil {
		return nil, err
	}
	op := s.newOperation(path, "delete", res.ResourceMeta().ID, requestID)
	if err := putOperation(&change, op); err != nil {
		return nil, err
	}
	if _, err := s.store.Apply(ctx, change); err != nil {
		return nil, conditionError(err, path)
	}
	return op, nil
}

// modify implements PATCH (a JSON merge patch, RFC 7386, over the stored resource) and
// PUT (a replacement). Output-only fields are kept, the fingerprint is checked, and the
// reference index is updated in the same transaction.
func (s *Server) modify(ctx context.Context, k *kind, rt route, r *http.Request, method string) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	probe := k.new()
	if err := decodeStrict(body, probe, "resource"); err != nil {
		return nil, err
	}
	return retryRaces(ctx, rt.name, func() (any, error) {
		return s.tryModify(ctx, k, rt, body, probe, method, r.URL.Query().Get("requestId"))
	})
}

func (s *Server) tryModify(ctx context.Context, k *kind, rt route, body []byte, probe api.Resource, method, requestID string) (any, error) {
	path := pathOf(k, rt, rt.name)
	cur, rev, err := s.load(ctx, k, path)
	if err != nil {
		return nil, err
	}
	if fp, ok := probe.(api.Fingerprinted); ok && *fp.FingerprintField() != "" && !sameFingerprint(*fp.FingerprintField(), *cur.(api.Fingerprinted).FingerprintField()) {
		return nil, errFingerprint(k.noun)
	}
	if n := probe.ResourceMeta().Name; n != "" && n != rt.name {
		return nil, errInvalid("Invalid value for field 'resource.name': '%s'. The name of a resource cannot be changed.", n)
	}
	next, err := applyBody(k, cur, body, method)
	if err != nil {
		return nil, err
	}
	keepPrivate(cur, next)
	return s.replace(ctx, k, rt, cur, next, rev, method, requestID)
}

// replace writes next in place of cur (read at rev): defaults, validation, references.
// It is shared by PATCH, PUT and the action methods that change one field.
func (s *Server) replace(ctx context.Context, k *kind, rt route, cur, next api.Resource, rev int64, opType, requestID string) (any, error) {
	path := pathOf(k, rt, rt.name)
	cm, nm := cur.ResourceMeta(), next.ResourceMeta()
	nm.Kind, nm.ID, nm.Name, nm.CreationTimestamp, nm.SelfLink = cm.Kind, cm.ID, cm.Name, cm.CreationTimestamp, cm.SelfLink
	clearDerived(next)
	next.SetDefaults()
	setRegion(next, rt)
	change := store.Change{Puts: map[string][]byte{}, Conditions: []store.Condition{{Key: resKey(path.String()), Want: rev}}}
	if err := s.keepClaims(cur, next); err != nil {
		return nil, err
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	targets, err := s.resolveRefs(ctx, next, rt)
	if err != nil {
		return nil, err
	}
	if err := deepCheck(next); err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, t := range targets {
		keep[t] = true
		change.Conditions = append(change.Conditions, store.Condition{Key: resKey(t), Want: store.Present})
		change.Puts[refKey(t, path.String())] = nil
	}
	for _, ref := range cur.References() {
		if !keep[*ref.Value] {
			change.Deletes = append(change.Deletes, refKey(*ref.Value, path.String()))
		}
	}
	return s.commit(ctx, change, next, path, opType, requestID)
}

// applyBody builds the next version of a resource from a PATCH or PUT body.
func applyBody(k *kind, cur api.Resource, body []byte, method string) (api.Resource, error) {
	next := k.new()
	if method == "update" {
		return next, decodeStrict(body, next, "resource")
	}
	curJSON, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	merged, err := mergePatch(curJSON, body)
	if err != nil {
		return nil, errInvalid("Invalid JSON payload received. %v", err)
	}
	// The stored JSON holds private fields, which decodeStrict accepts; the body was
	// already checked for them.
	return next, json.Unmarshal(merged, next)
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apiError{413, "invalid", fmt.Sprintf("Request body is larger than %d bytes.", maxBodyBytes)}
		}
		return nil, errInvalid("Cannot read the request body: %v", err)
	}
	return body, nil
}

// decodeStrict decodes a request body, refusing unknown fields as GCP does, and the
// private fields Meridian keeps in stored resources.
func decodeStrict(body []byte, v any, what string) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errInvalid("Invalid JSON payload received. The request body is empty; a %s is required.", what)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errInvalid("Invalid JSON payload received. %s", jsonErrorText(err, what))
	}
	if dec.More() {
		return errInvalid("Invalid JSON payload received. Unexpected data after the %s.", what)
	}
	if hasPrivateInput(v) {
		return errInvalid("Invalid JSON payload received. Unknown name at '%s': Cannot find field.", what)
	}
	return nil
}

func jsonErrorText(err error, what string) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("Invalid value at '%s.%s' (%s).", what, typeErr.Field, typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("Unknown name %s at '%s': Cannot find field.", strings.TrimPrefix(err.Error(), "json: unknown field "), what)
	}
	return err.Error()
}

// hasPrivateInput reports whether a request set a field that only Meridian writes.
func hasPrivateInput(v any) bool {
	switch r := v.(type) {
	case *api.NetworkEndpointGroup:
		return r.Endpoints != nil
	case *api.BackendService:
		return r.SignedURLKeys != nil
	}
	return false
}

// keepPrivate carries the private state a client cannot see from cur to next.
func keepPrivate(cur, next api.Resource) {
	switch n := next.(type) {
	case *api.NetworkEndpointGroup:
		n.Endpoints = cur.(*api.NetworkEndpointGroup).Endpoints
	case *api.BackendService:
		n.SignedURLKeys = cur.(*api.BackendService).SignedURLKeys
	case *api.SslCertificate:
		c := cur.(*api.SslCertificate)
		if n.PrivateKey == "" {
			n.PrivateKey = c.PrivateKey
		}
	}
}

func setRegion(res api.Resource, rt route) {
	if n, ok := res.(*api.NetworkEndpointGroup); ok && rt.region != "" {
		n.Region = api.RegionPath(rt.project, rt.region)
	}
}

// setFingerprint sets GCP's optimistic-locking fingerprint: a hash of the content, so
// it changes whenever the resource does.
func setFingerprint(res api.Resource) {
	fp, ok := res.(api.Fingerprinted)
	if !ok {
		return
	}
	*fp.FingerprintField() = ""
	data, _ := json.Marshal(res)
	sum := sha256.Sum256(data)
	*fp.FingerprintField() = base64.StdEncoding.EncodeToString(sum[:8])
}

// sameFingerprint compares a supplied fingerprint with the current one by the bytes they
// encode. The field is "bytes" in the API: Meridian writes standard base64 (as GCP
// does), and clients may send it back in either alphabet (gcloud's apitools sends the
// URL-safe one, "eUSvY_NYwFE=" for "eUSvY/NYwFE=").
func sameFingerprint(supplied, current string) bool {
	a, errA := decodeBase64Either(supplied)
	b, errB := decodeBase64Either(current)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

func decodeBase64Either(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// newID returns a random uint64, GCP's form of resource and operation ids.
func newID() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 1 // positive as int64 too, for clients that parse it so
}

func (s *Server) timestamp() string {
	return s.cfg.Now().Format(api.TimestampFormat)
}

// resolveRefs rewrites every reference of res to its canonical relative path and
// returns the distinct targets, which the caller requires to exist.
func (s *Server) resolveRefs(ctx context.Context, res api.Resource, rt route) ([]string, error) {
	var targets []string
	seen := map[string]bool{}
	for _, ref := range res.References() {
		p, err := parseRef(*ref.Value, rt, ref.Collections)
		if err != nil {
			return nil, errInvalid("Invalid value for field '%s': '%s'. %v", ref.Field, *ref.Value, err)
		}
		*ref.Value = p.String()
		if !seen[*ref.Value] {
			seen[*ref.Value] = true
			targets = append(targets, *ref.Value)
		}
	}
	return targets, s.crossCheck(ctx, res)
}

// deepCheck runs the checks that need more than the api package: a URL map's tests
// and a security policy's expressions.
func deepCheck(res api.Resource) error {
	if err := runURLMapTests(res); err != nil {
		return err
	}
	return checkSecurityPolicy(res)
}

// runURLMapTests runs a URL map's tests[] once its references are canonical: as in
// GCP, a map whose tests fail is not stored.
func runURLMapTests(res api.Resource) error {
	um, ok := res.(*api.UrlMap)
	if !ok || len(um.Tests) == 0 {
		return nil
	}
	failures, err := router.RunTests(um)
	if err != nil {
		return errInvalid("Invalid value for field 'resource': %v", err)
	}
	if len(failures) > 0 {
		return errInvalid("Invalid value for field 'resource.tests': %s", describeTestFailure(failures[0]))
	}
	return nil
}

func describeTestFailure(f api.TestFailure) string {
	switch {
	case f.ExpectedService != "" && f.ActualService == "":
		return fmt.Sprintf("Test failed for host '%s' and path '%s': expected service '%s' but got a redirect to '%s'.", f.Host, f.Path, f.ExpectedService, f.ActualOutputURL)
	case f.ExpectedService != "" && f.ActualService != f.ExpectedService:
		return fmt.Sprintf("Test failed for host '%s' and path '%s': expected service '%s' but got '%s'.", f.Host, f.Path, f.ExpectedService, f.ActualService)
	case f.ExpectedRedirectResponseCode != 0 && f.ExpectedRedirectResponseCode != f.ActualRedirectResponseCode:
		return fmt.Sprintf("Test failed for host '%s' and path '%s': expected redirect response code %d but got %d.", f.Host, f.Path, f.ExpectedRedirectResponseCode, f.ActualRedirectResponseCode)
	}
	return fmt.Sprintf("Test failed for host '%s' and path '%s': expected URL '%s' but got '%s'.", f.Host, f.Path, f.ExpectedOutputURL, f.ActualOutputURL)
}

// parseRef accepts a URL, a relative or partial path, or a bare name (taken to be in
// the referrer's project and scope, in the field's first collection).
func parseRef(v string, rt route, collections []string) (api.ResourcePath, error) {
	if !strings.Contains(v, "/") {
		if err := api.ValidateName("name", v); err != nil {
			return api.ResourcePath{}, errors.New("The URL is malformed.")
		}
		return api.ResourcePath{Project: rt.project, Region: rt.region, Collection: collections[0], Name: v}, nil
	}
	p, err := api.ParseResourcePath(v, rt.project)
	if err != nil {
		return p, errors.New("The URL is malformed.")
	}
	for _, c := range collections {
		if p.Collection == c {
			return p, nil
		}
	}
	return p, fmt.Errorf("Expected a reference to %s.", strings.Join(collections, " or "))
}

// crossCheck enforces rules that span resources.
func (s *Server) crossCheck(ctx context.Context, res api.Resource) error {
	bs, ok := res.(*api.BackendService)
	if !ok || len(bs.HealthChecks) == 0 {
		return nil
	}
	for _, b := range bs.Backends {
		p, err := api.ParseResourcePath(b.Group, "")
		if err != nil || p.Collection != "networkEndpointGroups" {
			continue
		}
		// [NEG]: serverless NEGs take no health check (their health is the region
		// runtime's readiness and outlier detection). Meridian probes internet NEG
		// endpoints with one, where GCP cannot: a deliberate extension.
		kv, err := s.store.Get(ctx, resKey(p.String()))
		if err != nil {
			continue // a missing NEG is reported by reference resolution
		}
		var neg api.NetworkEndpointGroup
		if json.Unmarshal(kv.Value, &neg) == nil && neg.NetworkEndpointType == api.NEGServerless {
			return errInvalid("Invalid value for field 'resource.healthChecks': '%s'. A backend service with serverless network endpoint group backends must not have a health check.", bs.HealthChecks[0])
		}
	}
	return nil
}

// decorate makes the public view of a stored resource: it fills output-only fields
// derived from the reference index (an address's users and status, a backend service's
// usedBy) and removes what the API never returns.
func (s *Server) decorate(ctx context.Context, res api.Resource) (api.Resource, error) {
	switch r := res.(type) {
	case *api.Address:
		users, err := s.referrers(ctx, r.SelfLink)
		if err != nil {
			return nil, err
		}
		r.Users, r.Status = users, "RESERVED"
		if len(users) > 0 {
			r.Status = "IN_USE"
		}
	case *api.BackendService:
		users, err := s.referrers(ctx, r.SelfLink)
		if err != nil {
			return nil, err
		}
		r.UsedBy = nil
		for _, u := range users {
			r.UsedBy = append(r.UsedBy, api.UsedBy{Reference: u})
		}
	}
	if r, ok := res.(api.Redactor); ok {
		r.Redact()
	}
	return res, nil
}

// clearDerived drops output-only fields that decorate computes, which a client may send
// back in a PUT of what it read.
func clearDerived(res api.Resource) {
	switch r := res.(type) {
	case *api.BackendService:
		r.UsedBy = nil
	case *api.Address:
		r.Users, r.Status = nil, ""
	}
}

func (s *Server) referrers(ctx context.Context, target string) ([]string, error) {
	kvs, _, err := s.store.List(ctx, refPrefix(target), "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, strings.TrimPrefix(kv.Key, refPrefix(target)))
	}
	return out, nil
}
