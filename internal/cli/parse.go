package cli

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	"meridian/api"
)

// Parsers of flag values in gcloud's syntax. Every one is fuzzed (fuzz_test.go).

// splitList splits a gcloud list value on commas, or on the delimiter D given as a
// "^D^" prefix (gcloud's escaping: "^:^a,b:c" is ["a,b", "c"]). Items are trimmed and
// empty items dropped, so "" is the empty list.
func splitList(s string) []string {
	sep := ","
	if len(s) >= 3 && s[0] == '^' {
		if end := strings.IndexByte(s[1:], '^'); end > 0 {
			sep, s = s[1:1+end], s[2+end:]
		}
	}
	var items []string
	for _, item := range strings.Split(s, sep) {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// keyValue is one KEY=VALUE item of a gcloud dictionary flag.
type keyValue struct {
	key, value string
}

// parseKeyValues parses a gcloud dictionary value, "k1=v1,k2=v2" (or with a "^D^"
// delimiter prefix), keeping the order given.
func parseKeyValues(s string) ([]keyValue, error) {
	var out []keyValue
	for _, item := range splitList(s) {
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("Bad syntax for dict arg: [%s]. Expected KEY=VALUE.", item)
		}
		out = append(out, keyValue{key: k, value: strings.TrimSpace(v)})
	}
	return out, nil
}

// durationUnit is the length in seconds of a gcloud duration unit.
func durationUnit(c byte) float64 {
	switch c {
	case 'm':
		return 60
	case 'h':
		return 3600
	case 'd':
		return 86400
	case 'w':
		return 7 * 86400
	}
	return 1
}

// maxDurationSeconds bounds durations well below int64 overflow; no Compute field
// takes more than a few years.
const maxDurationSeconds = 100 * 366 * 86400

// parseDuration parses a gcloud duration into whole seconds: a plain number of
// seconds ("3600"), units ("3600s", "1h", "1h30m", "1.5h", "2d"), or ISO 8601
// ("PT1H", "P1DT2H"; years and months are refused as ambiguous). Fractions of a second
// are dropped.
func parseDuration(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 || n > maxDurationSeconds {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
		return n, nil
	}
	bad := fmt.Errorf("%q is not a duration: use seconds or units, e.g. 30s, 5m, 1h, 1d", s)
	if t == "" || strings.HasPrefix(t, "-") {
		return 0, bad
	}
	var total float64
	if rest, iso := strings.CutPrefix(t, "p"); iso {
		date, clock, _ := strings.Cut(rest, "t")
		d, err := sumDurationTerms(date, "wd")
		if err != nil {
			return 0, bad
		}
		c, err := sumDurationTerms(clock, "hms")
		if err != nil || (date == "" && clock == "") {
			return 0, bad
		}
		total = d + c
	} else {
		var err error
		if total, err = sumDurationTerms(t, "wdhms"); err != nil || t == "" {
			return 0, bad
		}
	}
	if total > maxDurationSeconds {
		return 0, fmt.Errorf("duration %q is out of range", s)
	}
	return int64(total), nil
}

// sumDurationTerms adds up terms "<number><unit>" with units from allowed.
func sumDurationTerms(s, allowed string) (float64, error) {
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 || i == len(s) || !strings.ContainsRune(allowed, rune(s[i])) {
			return 0, fmt.Errorf("bad duration term %q", s)
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil || math.IsInf(n, 0) {
			return 0, fmt.Errorf("bad number %q", s[:i])
		}
		total += n * durationUnit(s[i])
		if total > maxDurationSeconds {
			return 0, fmt.Errorf("too large")
		}
		s = s[i+1:]
	}
	return total, nil
}

// parseEndpoint parses --add-endpoint and --remove-endpoint: "ip=1.2.3.4,port=80",
// "fqdn=example.com,port=443", "ipv6=…" or "instance=…".
func parseEndpoint(s string) (api.NetworkEndpoint, error) {
	var e api.NetworkEndpoint
	kvs, err := parseKeyValues(s)
	if err != nil {
		return e, err
	}
	if len(kvs) == 0 {
		return e, fmt.Errorf("an endpoint needs at least one of fqdn=, ip=, ipv6=, instance=, port=")
	}
	seen := map[string]bool{}
	for _, kv := range kvs {
		if seen[kv.key] {
			return e, fmt.Errorf("key [%s] is given twice in [%s]", kv.key, s)
		}
		seen[kv.key] = true
		switch kv.key {
		case "ip":
			if net.ParseIP(kv.value) == nil || strings.Contains(kv.value, ":") {
				return e, fmt.Errorf("[%s] is not an IPv4 address", kv.value)
			}
			e.IPAddress = kv.value
		case "ipv6":
			if ip := net.ParseIP(kv.value); ip == nil || !strings.Contains(kv.value, ":") {
				return e, fmt.Errorf("[%s] is not an IPv6 address", kv.value)
			}
			e.IPv6Address = kv.value
		case "fqdn":
			if kv.value == "" {
				return e, fmt.Errorf("fqdn= needs a host name")
			}
			e.Fqdn = kv.value
		case "instance":
			e.Instance = kv.value
		case "port":
			port, err := strconv.ParseInt(kv.value, 10, 64)
			if err != nil || port < 1 || port > 65535 {
				return e, fmt.Errorf("port [%s] must be a number from 1 to 65535", kv.value)
			}
			e.Port = port
		default:
			return e, fmt.Errorf("unknown key [%s]; the keys are fqdn, instance, ip, ipv6 and port", kv.key)
		}
	}
	return e, nil
}

// pathRuleArg is one PATH=SERVICE item of --path-rules.
type pathRuleArg struct {
	path, service string
}

// parsePathRules parses --path-rules="/a/*=bs1,/b=bs2": paths start with "/", each
// path at most once.
func parsePathRules(s string) ([]pathRuleArg, error) {
	kvs, err := parseKeyValues(s)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []pathRuleArg
	for _, kv := range kvs {
		switch {
		case !strings.HasPrefix(kv.key, "/"):
			return nil, fmt.Errorf("path [%s] must start with /", kv.key)
		case kv.value == "":
			return nil, fmt.Errorf("path [%s] has no backend service", kv.key)
		case seen[kv.key]:
			return nil, fmt.Errorf("path [%s] is given more than once", kv.key)
		}
		seen[kv.key] = true
		out = append(out, pathRuleArg{path: kv.key, service: kv.value})
	}
	return out, nil
}

// maxNegativeCachingTTL is GCP's limit on a negative caching TTL (30 minutes).
const maxNegativeCachingTTL = 1800

// parseNegativeCachingPolicy parses --negative-caching-policy="404=60,301=120" (TTLs
// in seconds or as durations).
func parseNegativeCachingPolicy(s string) ([]api.NegativeCachingPolicy, error) {
	kvs, err := parseKeyValues(s)
	if err != nil {
		return nil, err
	}
	var out []api.NegativeCachingPolicy
	for _, kv := range kvs {
		code, err := strconv.ParseInt(kv.key, 10, 64)
		if err != nil || code < 100 || code > 599 {
			return nil, fmt.Errorf("[%s] is not an HTTP status code", kv.key)
		}
		if slices.ContainsFunc(out, func(p api.NegativeCachingPolicy) bool { return p.Code == code }) {
			return nil, fmt.Errorf("status code %d is given more than once", code)
		}
		ttl, err := parseDuration(kv.value)
		if err != nil {
			return nil, fmt.Errorf("TTL of %d: %v", code, err)
		}
		if ttl > maxNegativeCachingTTL {
			return nil, fmt.Errorf("TTL of %d must be at most %ds (30 minutes)", code, maxNegativeCachingTTL)
		}
		out = append(out, api.NegativeCachingPolicy{Code: code, TTL: ttl})
	}
	return out, nil
}
