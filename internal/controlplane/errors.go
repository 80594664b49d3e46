package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"meridian/api"
)

// apiError is the one error type that crosses the HTTP boundary. It renders as GCP's
// error shape: {"error":{"code","message","errors":[{"message","domain","reason"}],"status"}}.
type apiError struct {
	Code    int
	Reason  string // "notFound", "alreadyExists", "invalid", …
	Message string
}

func (e *apiError) Error() string { return e.Message }

// gRPC-style status names Google's APIs put beside the HTTP code.
var statusNames = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	405: "METHOD_NOT_ALLOWED", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 413: "INVALID_ARGUMENT",
	429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}

func errNotFound(path string) *apiError {
	return &apiError{404, "notFound", fmt.Sprintf("The resource '%s' was not found", path)}
}

func errAlreadyExists(path string) *apiError {
	return &apiError{409, "alreadyExists", fmt.Sprintf("The resource '%s' already exists", path)}
}

// errInUse is GCP's refusal to delete a resource something refers to; GCP names the
// resource's type as gcloud's messages show it: "The url_map resource '…' is already
// being used by '…'".
func errInUse(path api.ResourcePath, user string) *apiError {
	return &apiError{400, "resourceInUseByAnotherResource", fmt.Sprintf("The %s resource '%s' is already being used by '%s'", resourceType(path.Collection), path, user)}
}

// resourceType turns a collection ("targetHttpsProxies") into the singular snake_case
// type GCP's messages use ("target_https_proxy").
func resourceType(collection string) string {
	switch {
	case strings.HasSuffix(collection, "ies"):
		collection = strings.TrimSuffix(collection, "ies") + "y"
	case strings.HasSuffix(collection, "sses"):
		collection = strings.TrimSuffix(collection, "es")
	default:
		collection = strings.TrimSuffix(collection, "s")
	}
	var b strings.Builder
	for _, r := range collection {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func errInvalid(format string, args ...any) *apiError {
	return &apiError{400, "invalid", fmt.Sprintf(format, args...)}
}

func errFingerprint(kind string) *apiError {
	return &apiError{412, "conditionNotMet", fmt.Sprintf("Supplied fingerprint does not match current fingerprint of the %s. Fetch the %s and try again.", kind, kind)}
}

// toAPIError maps any error to the boundary type: validation errors keep their GCP
// words, anything unexpected becomes a 500 without internals.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var fe *api.FieldError
	if errors.As(err, &fe) {
		return &apiError{400, fe.Reason, fe.Message}
	}
	return &apiError{500, "backendError", "Internal error: " + err.Error()}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Errors  []errorItem `json:"errors"`
	Status  string      `json:"status,omitempty"`
}

type errorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

func writeError(w http.ResponseWriter, err error) {
	ae := toAPIError(err)
	writeJSON(w, ae.Code, errorBody{errorDetail{
		Code: ae.Code, Message: ae.Message, Status: statusNames[ae.Code],
		Errors: []errorItem{{Message: ae.Message, Domain: "global", Reason: ae.Reason}},
	}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		code, body = 500, []byte(`{"error":{"code":500,"message":"Internal error: cannot encode the response","errors":[{"message":"cannot encode the response","domain":"global","reason":"backendError"}]}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
}
