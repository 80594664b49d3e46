package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"meridian/api"
	"meridian/internal/armor"
)

// securityPolicyAction serves a security policy's per-rule methods: addRule,
// getRule, patchRule and removeRule (the rule is named by its priority).
func (s *Server) securityPolicyAction(ctx context.Context, k *kind, rt route, q url.Values, body []byte) (any, error) {
	reqID := q.Get("requestId")
	if q.Get("validateOnly") == "true" {
		return nil, errInvalid("Meridian does not implement validateOnly for %s.", rt.action)
	}
	switch rt.action {
	case "addRule":
		var rule api.SecurityPolicyRule
		if err := decodeStrict(body, &rule, "resource"); err != nil {
			return nil, err
		}
		if err := checkRule(&rule, "resource"); err != nil {
			return nil, err
		}
		return s.mutate(ctx, k, rt, reqID, "AddRule", func(res api.Resource) error {
			p := res.(*api.SecurityPolicy)
			if p.Rule(rule.Priority) != nil {
				return api.Invalid("resource.priority", rule.Priority, "Cannot have rules with the same priorities.")
			}
			p.Rules = append(p.Rules, rule)
			return nil
		})
	case "getRule":
		priority, err := rulePriority(q)
		if err != nil {
			return nil, err
		}
		res, _, err := s.load(ctx, k, pathOf(k, rt, rt.name))
		if err != nil {
			return nil, err
		}
		r := res.(*api.SecurityPolicy).Rule(priority)
		if r == nil {
			return nil, errNoRule(priority)
		}
		return r, nil
	case "patchRule":
		priority, err := rulePriority(q)
		if err != nil {
			return nil, err
		}
		var patch map[string]json.RawMessage
		if err := json.Unmarshal(body, &patch); err != nil {
			return nil, errInvalid("Invalid JSON payload received. %v", err)
		}
		return s.mutate(ctx, k, rt, reqID, "PatchRule", func(res api.Resource) error {
			p := res.(*api.SecurityPolicy)
			cur := p.Rule(priority)
			if cur == nil {
				return errNoRule(priority)
			}
			next, err := patchRule(cur, patch, q.Get("updateMask"))
			if err != nil {
				return err
			}
			switch {
			case next.Priority != priority && priority == api.DefaultRulePriority:
				return api.Invalid("resource.priority", next.Priority, "The default rule stays at priority 2147483647; change its action instead.")
			case next.Priority != priority && p.Rule(next.Priority) != nil:
				return api.Invalid("resource.priority", next.Priority, "Cannot have rules with the same priorities.")
			case cur.Action == api.ActionRateBasedBan && next.Action == api.ActionThrottle:
				return api.Invalid("resource.action", next.Action, "A rate_based_ban rule cannot become a throttle rule.")
			}
			if err := checkRule(next, "resource"); err != nil {
				return err
			}
			*cur = *next
			return nil
		})
	case "removeRule":
		priority, err := rulePriority(q)
		if err != nil {
			return nil, err
		}
		if priority == api.DefaultRulePriority {
			return nil, api.Invalid("priority", priority, "The default rule of a security policy cannot be removed; change its action instead.")
		}
		return s.mutate(ctx, k, rt, reqID, "RemoveRule", func(res api.Resource) error {
			p := res.(*api.SecurityPolicy)
			for i, r := range p.Rules {
				if r.Priority == priority {
					p.Rules = append(p.Rules[:i], p.Rules[i+1:]...)
					return nil
				}
			}
			return errNoRule(priority)
		})
	}
	return nil, &apiError{400, "invalid", fmt.Sprintf("Meridian does not implement securityPolicies.%s.", rt.action)}
}

// rulePriority reads the priority query parameter; GCP's default is 0.
func rulePriority(q url.Values) (int32, error) {
	v := q.Get("priority")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return 0, api.Invalid("priority", v, "Must be an integer between 0 and 2147483647.")
	}
	return int32(n), nil
}

func errNoRule(priority int32) error {
	return api.Invalid("priority", priority, fmt.Sprintf("The security policy does not contain a rule at priority %d.", priority))
}

// patchRule applies patchRule's body to a rule: the fields it carries are merged
// into the rule's (objects field by field, a match replaced whole, as gcloud sends
// only the flags given), and the fields updateMask names that it does not carry are
// cleared. The priority stays unless the body gives one.
func patchRule(cur *api.SecurityPolicyRule, patch map[string]json.RawMessage, updateMask string) (*api.SecurityPolicyRule, error) {
	data, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	var fields map[string]any
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	for _, path := range strings.Split(updateMask, ",") {
		if path = strings.TrimSpace(path); path != "" && path != "priority" {
			clearPath(fields, strings.Split(path, "."), patch)
		}
	}
	for k, v := range patch {
		var val any
		if err := json.Unmarshal(v, &val); err != nil {
			return nil, err
		}
		switch {
		case k == "priority" && val == nil:
			// null keeps the rule where it is
		case k == "match":
			fields[k] = val
		default:
			fields[k] = mergeValue(fields[k], val) // RFC 7386, as PATCH (mergepatch.go)
		}
	}
	merged, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	next := &api.SecurityPolicyRule{}
	if err := decodeStrict(merged, next, "resource"); err != nil {
		return nil, err
	}
	return next, nil
}

// clearPath removes an updateMask path (snake_case, dotted) from a rule's fields
// unless the patch sets its top-level field.
func clearPath(fields map[string]any, path []string, patch map[string]json.RawMessage) {
	name := camel(path[0])
	if _, set := patch[name]; set && len(path) == 1 {
		return
	}
	if len(path) == 1 {
		delete(fields, name)
		return
	}
	if sub, ok := fields[name].(map[string]any); ok {
		clearPath(sub, path[1:], nil)
	}
}

func camel(snake string) string {
	parts := strings.Split(snake, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// checkRule validates one rule on its own and compiles its expression; field is its
// place in the request ("resource" for the per-rule methods).
func checkRule(r *api.SecurityPolicyRule, field string) error {
	r.SetDefaults()
	if err := r.Validate(field); err != nil {
		return err
	}
	if err := armor.CheckRule(r); err != nil {
		return api.Invalid(field+".match.expr", r.Match.Expr.Expression, "Error parsing Cloud Armor rule matcher expression: "+err.Error())
	}
	return nil
}

// checkSecurityPolicy compiles a whole policy's expressions before it is stored.
func checkSecurityPolicy(res api.Resource) error {
	p, ok := res.(*api.SecurityPolicy)
	if !ok {
		return nil
	}
	for i := range p.Rules {
		if err := checkRule(&p.Rules[i], fmt.Sprintf("resource.rules[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}
