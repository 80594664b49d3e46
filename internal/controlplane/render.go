package controlplane

import (
	"bytes"
	"encoding/json"
	"strings"
)

// referenceKeys are the JSON members whose values are resource references, stored as
// relative paths ("projects/p/global/urlMaps/m") and rendered as full URLs.
var referenceKeys = map[string]bool{
	"selfLink": true, "targetLink": true, "region": true, "zone": true, "group": true,
	"healthChecks": true, "backendService": true, "service": true, "defaultService": true,
	"urlMap": true, "sslCertificates": true, "target": true, "users": true, "reference": true,
	"network": true, "subnetwork": true, "sslPolicy": true, "certificateMap": true,
	"securityPolicy": true, "edgeSecurityPolicy": true, "IPAddress": true, "id": true,
	"expectedService": true, "actualService": true,
}

// render turns a response into JSON values with every reference rendered as a URL under
// the API's base, the form Google's clients and gcloud print and send back.
func (s *Server) render(base string, v any) any {
	out := s.toJSONValue(v)
	prefix := strings.TrimSuffix(base, "/") + "/compute/v1/"
	rewriteReferences(out, prefix, false)
	return out
}

// toJSONValue round-trips v through JSON into generic values (numbers kept exact).
func (s *Server) toJSONValue(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&out) != nil {
		return nil
	}
	return out
}

func rewriteReferences(v any, prefix string, isRef bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if s, ok := child.(string); ok && referenceKeys[k] && strings.HasPrefix(s, "projects/") {
				t[k] = prefix + s
				continue
			}
			rewriteReferences(child, prefix, referenceKeys[k])
		}
	case []any:
		for i, child := range t {
			if s, ok := child.(string); ok && isRef && strings.HasPrefix(s, "projects/") {
				t[i] = prefix + s
				continue
			}
			rewriteReferences(child, prefix, false)
		}
	}
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
