package controlplane

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Cloud Run's IAM methods on services (v1's services/{name}:getIamPolicy and friends).
// Meridian has no principals to tell apart: whoever holds the API's token may do
// everything, and every service is invokable by anyone who reaches it through the
// load balancer, as a Cloud Run service granting roles/run.invoker to allUsers is. The
// methods say exactly that, and a policy that would take invocation away from allUsers
// is refused rather than accepted and ignored.

// invokerRole is Cloud Run's role for calling a service.
const invokerRole = "roles/run.invoker"

type iamBinding struct {
	Role    string   `json:"role"`
	Members []string `json:"members"`
}

type iamPolicy struct {
	Version  int          `json:"version,omitempty"`
	Bindings []iamBinding `json:"bindings,omitempty"`
	Etag     string       `json:"etag,omitempty"`
}

// meridianPolicy is the one policy every service has.
var meridianPolicy = iamPolicy{Version: 1, Etag: "BwYAAAAAAAA=", Bindings: []iamBinding{{Role: invokerRole, Members: []string{"allUsers"}}}}

// serveServiceMethod serves v1's services/{name}, whose last segment may carry a custom
// method ("my-service:getIamPolicy").
func (s *Server) serveServiceMethod(w http.ResponseWriter, r *http.Request) {
	name, method, ok := strings.Cut(r.PathValue("name"), ":")
	if !ok {
		s.serveKnativeService(w, r)
		return
	}
	region, ns := r.PathValue("region"), r.PathValue("namespace")
	if method == "testIamPermissions" && r.Method == http.MethodPost {
		// Asked before a service is created too: the project's permissions answer.
		if err := validateScopeNames(region, ns); err != nil {
			writeError(w, err)
			return
		}
		result, err := testIamPermissions(r)
		respondKnative(w, result, err)
		return
	}
	if _, _, err := s.loadKnative(r.Context(), region, ns, name); err != nil {
		writeError(w, err)
		return
	}
	var result any
	var err error
	switch {
	case method == "getIamPolicy" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		result = meridianPolicy
	case method == "setIamPolicy" && r.Method == http.MethodPost:
		result, err = setIamPolicy(r)
	default:
		err = &apiError{404, "notFound", fmt.Sprintf("Method '%s' is not a method of services.", method)}
	}
	respondKnative(w, result, err)
}

// testIamPermissions grants every permission asked for: the caller holds the API's token.
func testIamPermissions(r *http.Request) (any, error) {
	var req struct {
		Permissions []string `json:"permissions"`
	}
	if err := decodeRequest(r, &req); err != nil {
		return nil, err
	}
	return map[string][]string{"permissions": req.Permissions}, nil
}

// setIamPolicy accepts a policy that keeps the service invokable by allUsers (the only
// access Meridian has) and answers with the policy in force.
func setIamPolicy(r *http.Request) (any, error) {
	var req struct {
		Policy iamPolicy `json:"policy"`
	}
	if err := decodeRequest(r, &req); err != nil {
		return nil, err
	}
	for _, b := range req.Policy.Bindings {
		if b.Role == invokerRole && slices.Contains(b.Members, "allUsers") {
			return meridianPolicy, nil
		}
	}
	return nil, &apiError{400, "failedPrecondition", "Meridian does not restrict who invokes a service: every service is invokable by allUsers through the load balancer, and its policy cannot drop that binding (deploy with --allow-unauthenticated, or without either flag)."}
}

func decodeRequest(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errInvalid("Invalid JSON payload received. %v", err)
	}
	return nil
}
