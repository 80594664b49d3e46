package controlplane

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"meridian/api"
	"meridian/internal/router"
	"meridian/internal/store"
)

// maxSignedURLKeys is GCP's limit of signed URL keys per backend service.
const maxSignedURLKeys = 3

// action serves the custom methods (POST {resource}/{action}).
func (s *Server) action(ctx context.Context, k *kind, rt route, r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	reqID := r.URL.Query().Get("requestId")
	switch k.collection + "." + rt.action {
	case "targetHttpsProxies.setUrlMap", "targetHttpProxies.setUrlMap":
		var req struct {
			URLMap string `json:"urlMap"`
		}
		return s.setField(ctx, k, rt, body, &req, reqID, "setUrlMap", func(res api.Resource) {
			switch p := res.(type) {
			case *api.TargetHttpsProxy:
				p.URLMap = req.URLMap
			case *api.TargetHttpProxy:
				p.URLMap = req.URLMap
			}
		})
	case "targetHttpsProxies.setSslCertificates":
		var req struct {
			SslCertificates []string `json:"sslCertificates"`
		}
		return s.setField(ctx, k, rt, body, &req, reqID, "setSslCertificates", func(res api.Resource) {
			res.(*api.TargetHttpsProxy).SslCertificates = req.SslCertificates
		})
	case "targetHttpsProxies.setSslPolicy":
		var req struct {
			SslPolicy string `json:"sslPolicy"`
		}
		return s.setField(ctx, k, rt, body, &req, reqID, "setSslPolicy", func(res api.Resource) {
			res.(*api.TargetHttpsProxy).SslPolicy = req.SslPolicy
		})
	case "targetHttpsProxies.setQuicOverride":
		var req struct {
			QuicOverride string `json:"quicOverride"`
		}
		return s.setField(ctx, k, rt, body, &req, reqID, "setQuicOverride", func(res api.Resource) {
			res.(*api.TargetHttpsProxy).QuicOverride = req.QuicOverride
		})
	case "backendServices.setSecurityPolicy":
		var req struct {
			SecurityPolicy string `json:"securityPolicy"`
		}
		return s.setField(ctx, k, rt, body, &req, reqID, "setSecurityPolicy", func(res api.Resource) {
			res.(*api.BackendService).SecurityPolicy = req.SecurityPolicy
		})
	case "securityPolicies.addRule", "securityPolicies.getRule", "securityPolicies.patchRule", "securityPolicies.removeRule":
		return s.securityPolicyAction(ctx, k, rt, r.URL.Query(), body)
	case "forwardingRules.setTarget":
		var req struct {
			Target string `json:"target"`
		}
		return s.setField(ctx, k, rt, body, &req, reqID, "setTarget", func(res api.Resource) {
			res.(*api.ForwardingRule).Target = req.Target
		})
	case "backendServices.addSignedUrlKey":
		return s.addSignedURLKey(ctx, k, rt, body, reqID)
	case "backendServices.deleteSignedUrlKey":
		return s.deleteSignedURLKey(ctx, k, rt, r.URL.Query().Get("keyName"), reqID)
	case "networkEndpointGroups.attachNetworkEndpoints", "networkEndpointGroups.detachNetworkEndpoints":
		return s.changeEndpoints(ctx, k, rt, body, reqID)
	case "networkEndpointGroups.listNetworkEndpoints":
		return s.listEndpoints(ctx, k, rt)
	case "urlMaps.validate":
		return s.validateURLMap(ctx, rt, body)
	case "urlMaps.invalidateCache":
		return s.invalidateCache(ctx, k, rt, body, reqID)
	case "backendServices.getHealth":
		return s.getHealth(ctx, k, rt, body)
	}
	return nil, &apiError{400, "invalid", fmt.Sprintf("Meridian does not implement %s.%s.", k.collection, rt.action)}
}

// setField decodes an action's body into req, then applies set to a copy of the
// resource and writes it as a whole, with the same checks as an update.
func (s *Server) setField(ctx context.Context, k *kind, rt route, body []byte, req any, reqID, opType string, set func(api.Resource)) (any, error) {
	if err := decodeStrict(body, req, "request"); err != nil {
		return nil, err
	}
	return s.mutate(ctx, k, rt, reqID, opType, func(res api.Resource) error {
		set(res)
		return nil
	})
}

// mutate applies fn to a fresh copy of the stored resource and writes it, retrying when
// another writer got there first.
func (s *Server) mutate(ctx context.Context, k *kind, rt route, reqID, opType string, fn func(api.Resource) error) (any, error) {
	path := pathOf(k, rt, rt.name)
	return retryRaces(ctx, rt.name, func() (any, error) {
		cur, rev, err := s.load(ctx, k, path)
		if err != nil {
			return nil, err
		}
		next, err := clone(k, cur)
		if err != nil {
			return nil, err
		}
		if err := fn(next); err != nil {
			return nil, err
		}
		return s.replace(ctx, k, rt, cur, next, rev, opType, reqID)
	})
}

func clone(k *kind, res api.Resource) (api.Resource, error) {
	data, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	out := k.new()
	return out, json.Unmarshal(data, out)
}

func (s *Server) addSignedURLKey(ctx context.Context, k *kind, rt route, body []byte, reqID string) (any, error) {
	var key api.SignedURLKey
	if err := decodeStrict(body, &key, "signedUrlKey"); err != nil {
		return nil, err
	}
	if err := api.ValidateName("signedUrlKey.keyName", key.KeyName); err != nil {
		return nil, err
	}
	// [SURL]: a key is 128 bits, base64url-encoded.
	if raw, err := base64.URLEncoding.DecodeString(key.KeyValue); err != nil || len(raw) != 16 {
		return nil, api.Invalid("signedUrlKey.keyValue", "<redacted>", "Must be a 128-bit key encoded in base64url (RFC 4648 section 5), 24 characters with padding.")
	}
	return s.mutate(ctx, k, rt, reqID, "addSignedUrlKey", func(res api.Resource) error {
		bs := res.(*api.BackendService)
		for _, have := range bs.SignedURLKeys {
			if have.KeyName == key.KeyName {
				return errAlreadyExists(bs.SelfLink + "/signedUrlKeys/" + key.KeyName)
			}
		}
		if len(bs.SignedURLKeys) >= maxSignedURLKeys {
			return errInvalid("A backend service can have at most %d signed URL keys.", maxSignedURLKeys)
		}
		bs.SignedURLKeys = append(bs.SignedURLKeys, key)
		return nil
	})
}

func (s *Server) deleteSignedURLKey(ctx context.Context, k *kind, rt route, name, reqID string) (any, error) {
	if name == "" {
		return nil, api.Required("keyName")
	}
	return s.mutate(ctx, k, rt, reqID, "deleteSignedUrlKey", func(res api.Resource) error {
		bs := res.(*api.BackendService)
		for i, have := range bs.SignedURLKeys {
			if have.KeyName == name {
				bs.SignedURLKeys = append(bs.SignedURLKeys[:i], bs.SignedURLKeys[i+1:]...)
				return nil
			}
		}
		return errNotFound(bs.SelfLink + "/signedUrlKeys/" + name)
	})
}

// changeEndpoints attaches or detaches network endpoints of an internet NEG.
func (s *Server) changeEndpoints(ctx context.Context, k *kind, rt route, body []byte, reqID string) (any, error) {
	var req struct {
		NetworkEndpoints []api.NetworkEndpoint `json:"networkEndpoints"`
	}
	if err := decodeStrict(body, &req, "request"); err != nil {
		return nil, err
	}
	attach := rt.action == "attachNetworkEndpoints"
	return s.mutate(ctx, k, rt, reqID, rt.action, func(res api.Resource) error {
		neg := res.(*api.NetworkEndpointGroup)
		for i, e := range req.NetworkEndpoints {
			if err := neg.ValidateEndpoint(fmt.Sprintf("networkEndpoints[%d]", i), e); err != nil {
				return err
			}
			at := -1
			for j, have := range neg.Endpoints {
				if api.SameEndpoint(have, e) {
					at = j
				}
			}
			switch {
			case attach && at >= 0:
				return errInvalid("The network endpoint %s is already attached to %s.", describeEndpoint(e), neg.Name)
			case attach:
				neg.Endpoints = append(neg.Endpoints, e)
			case at < 0:
				return errInvalid("The network endpoint %s is not attached to %s.", describeEndpoint(e), neg.Name)
			default:
				neg.Endpoints = append(neg.Endpoints[:at], neg.Endpoints[at+1:]...)
			}
		}
		return nil
	})
}

func describeEndpoint(e api.NetworkEndpoint) string {
	host := e.Fqdn + e.IPAddress
	if e.Port != 0 {
		return fmt.Sprintf("%s:%d", host, e.Port)
	}
	return host
}

func (s *Server) listEndpoints(ctx context.Context, k *kind, rt route) (any, error) {
	res, _, err := s.load(ctx, k, pathOf(k, rt, rt.name))
	if err != nil {
		return nil, err
	}
	type item struct {
		NetworkEndpoint api.NetworkEndpoint `json:"networkEndpoint"`
	}
	items := []item{}
	for _, e := range res.(*api.NetworkEndpointGroup).Endpoints {
		items = append(items, item{e})
	}
	return struct {
		Kind  string `json:"kind"`
		Items []item `json:"items"`
	}{"compute#networkEndpointGroupsListNetworkEndpoints", items}, nil
}

// validateURLMap implements urlMaps.validate: the map is checked as an insert would
// check it, without being stored; load errors are reported in the result, not as an
// HTTP error, as GCP does.
func (s *Server) validateURLMap(ctx context.Context, rt route, body []byte) (any, error) {
	var req struct {
		Resource             json.RawMessage `json:"resource"`
		LoadBalancingSchemes []string        `json:"loadBalancingSchemes,omitempty"`
	}
	if err := decodeStrict(body, &req, "request"); err != nil {
		return nil, err
	}
	result := api.UrlMapValidationResult{LoadSucceeded: true, TestPassed: true}
	um := &api.UrlMap{}
	err := decodeStrict(req.Resource, um, "resource")
	if err == nil {
		um.SetDefaults()
		err = um.Validate()
	}
	if err == nil {
		var targets []string
		if targets, err = s.resolveRefs(ctx, um, rt); err == nil {
			err = s.requireExisting(ctx, targets)
		}
	}
	if err != nil {
		return validationResult(api.UrlMapValidationResult{LoadErrors: []string{toAPIError(err).Message}}), nil
	}
	failures, err := router.RunTests(um)
	if err != nil {
		return validationResult(api.UrlMapValidationResult{LoadErrors: []string{err.Error()}}), nil
	}
	result.TestFailures, result.TestPassed = failures, len(failures) == 0
	return validationResult(result), nil
}

func validationResult(r api.UrlMapValidationResult) any {
	return struct {
		Result api.UrlMapValidationResult `json:"result"`
	}{r}
}
func (s *Server) requireExisting(ctx context.Context, targets []string) error {
	for _, t := range targets {
		if _, err := s.store.Get(ctx, resKey(t)); errors.Is(err, store.ErrNotFound) {
			return errNotFound(t)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// invalidateCache records a cache invalidation rule for the URL map; every edge applies
// it, and the operation runs until they all have (invalidation.go).
func (s *Server) invalidateCache(ctx context.Context, k *kind, rt route, body []byte, reqID string) (any, error) {
	var rule api.CacheInvalidationRule
	if err := decodeStrict(body, &rule, "cacheInvalidationRule"); err != nil {
		return nil, err
	}
	if err := validateInvalidationRule(rule); err != nil {
		return nil, err
	}
	path := pathOf(k, rt, rt.name)
	res, _, err := s.load(ctx, k, path)
	if err != nil {
		return nil, err
	}
	op := s.newOperation(path, "invalidateCache", res.ResourceMeta().ID, reqID)
	op.Status, op.Progress, op.EndTime = "RUNNING", 0, ""
	op.Description = invalidationDescription(rule)
	data, err := json.Marshal(rule)
	if err != nil {
		return nil, err
	}
	change := store.Change{Conditions: []store.Condition{{Key: resKey(path.String()), Want: store.Present}}}
	if err := putOperation(&change, op); err != nil {
		return nil, err
	}
	// The rule lives as long as its operation; its revision orders it for the edges.
	change.Expiring[api.InvalidationsPrefix+path.String()+"/"+op.Name] = data
	if _, err := s.store.Apply(ctx, change); err != nil {
		return nil, conditionError(err, path)
	}
	return op, nil
}

// invalidationDescription says what an invalidation matches, as the DESCRIPTION of
// gcloud's `url-maps list-cdn-cache-invalidations` shows it.
func invalidationDescription(r api.CacheInvalidationRule) string {
	d := r.Host + r.Path
	if len(r.CacheTags) > 0 {
		d = strings.TrimSpace(d + " cacheTags=" + strings.Join(r.CacheTags, ","))
	}
	return d
}

// validateInvalidationRule applies [INV]: a path starts with "/", has no "?" or "#",
// and "*" only as its last character; at most 10 cache tags of at most 120 bytes.
func validateInvalidationRule(r api.CacheInvalidationRule) error {
	if r.Path == "" && len(r.CacheTags) == 0 {
		return api.Required("cacheInvalidationRule.path")
	}
	if r.Path != "" {
		switch {
		case !strings.HasPrefix(r.Path, "/"):
			return api.Invalid("cacheInvalidationRule.path", r.Path, "Must start with '/'.")
		case strings.ContainsAny(r.Path, "?#"):
			return api.Invalid("cacheInvalidationRule.path", r.Path, "Must not contain '?' or '#'; query strings cannot be targeted.")
		case strings.Contains(strings.TrimSuffix(r.Path, "*"), "*"):
			return api.Invalid("cacheInvalidationRule.path", r.Path, "'*' is allowed only as the last character.")
		}
	}
	if len(r.CacheTags) > 10 {
		return api.Invalid("cacheInvalidationRule.cacheTags", len(r.CacheTags), "At most 10 cache tags are allowed.")
	}
	for i, t := range r.CacheTags {
		if t == "" || len(t) > 120 || strings.ContainsAny(t, ", \t") {
			return api.Invalid(fmt.Sprintf("cacheInvalidationRule.cacheTags[%d]", i), t, "A cache tag is 1 to 120 bytes without commas or spaces.")
		}
	}
	return nil
}
