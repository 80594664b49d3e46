package cli

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"meridian/api"
)

func securityPolicyType() *resourceType {
	return &resourceType{
		collection: "securityPolicies", noun: "security policy", plural: "security policies", globalByDefault: true,
		listFormat: "table(name)",
	}
}

// securityPoliciesCommand is `compute security-policies`, Cloud Armor's policies.
func (a *app) securityPoliciesCommand() *cobra.Command {
	rt := securityPolicyType()
	return a.group("security-policies", "Read and manipulate Cloud Armor security policies.",
		a.securityPolicyCreateCommand(rt),
		a.deleteCommand(rt),
		a.describeCommand(rt),
		a.listCommand(rt),
		a.securityPolicyUpdateCommand(rt),
		a.group("rules", "Read and manipulate security policy rules.",
			a.ruleCreateCommand(rt),
			a.ruleUpdateCommand(rt),
			a.ruleDeleteCommand(rt),
			a.ruleDescribeCommand(rt),
		),
	)
}

func (a *app) securityPolicyCreateCommand(rt *resourceType) *cobra.Command {
	var description, policyType *optional[string]
	cmd := a.resourceCommand(rt, "create", "Create a Cloud Armor security policy.", "create", func(s *session, t target) error {
		p := api.SecurityPolicy{Meta: api.Meta{Name: t.name}}
		description.apply(&p.Description)
		policyType.apply(&p.Type)
		return s.insert(rt, t.loc, &p, t.name)
	})
	description = addString(cmd.Flags(), "description", "An optional, textual description for the security policy.")
	policyType = addEnum(cmd.Flags(), "type", "The type indicates the intended use of the security policy (Meridian enforces CLOUD_ARMOR).", api.SecurityPolicyCloudArmor)
	return cmd
}

// securityPolicyUpdateCommand patches the description, with the policy's fingerprint.
func (a *app) securityPolicyUpdateCommand(rt *resourceType) *cobra.Command {
	var description *optional[string]
	cmd := a.resourceCommand(rt, "update", "Update a Cloud Armor security policy.", "update", func(s *session, t target) error {
		if !description.set {
			return errNoChange
		}
		var cur api.SecurityPolicy
		if err := s.get(t.path(rt.collection), &cur); err != nil {
			return err
		}
		op, err := s.client.mutate(s.ctx, http.MethodPatch, t.path(rt.collection),
			map[string]any{"fingerprint": cur.Fingerprint, "description": description.value})
		if err != nil {
			return err
		}
		s.status("Updated [%s].", op.TargetLink)
		return nil
	})
	description = addString(cmd.Flags(), "description", "An optional, textual description for the security policy.")
	return cmd
}

// ruleFlags are the flags rules create and update share, as gcloud spells them.
type ruleFlags struct {
	policy                                                      string
	description, expression, action                             *optional[string]
	srcIPRanges, headersToAdd                                   *listValue
	preview                                                     *optionalBool
	redirectType, redirectTarget                                *optional[string]
	rateCount, rateInterval, banCount, banInterval, banDuration *optional[int64]
	conformAction, exceedAction, enforceOnKey, enforceOnKeyName *optional[string]
	exceedRedirectType, exceedRedirectTarget                    *optional[string]
}

// gcloud's --action and --exceed-action values and the API's.
var ruleActions = map[string]string{
	"allow": api.ActionAllow, "deny-403": "deny(403)", "deny-404": "deny(404)", "deny-502": "deny(502)",
	"redirect": api.ActionRedirect, "throttle": api.ActionThrottle, "rate-based-ban": api.ActionRateBasedBan,
}

var exceedActions = map[string]string{
	"deny-403": "deny(403)", "deny-404": "deny(404)", "deny-429": "deny(429)", "deny-502": "deny(502)", "redirect": api.ActionRedirect,
}

var (
	redirectTypes  = map[string]string{"external-302": api.RedirectExternal302}
	conformActions = map[string]string{"allow": api.ActionAllow}
)

var enforceOnKeys = map[string]string{
	"all": api.EnforceOnKeyAll, "ip": api.EnforceOnKeyIP, "http-header": api.EnforceOnKeyHTTPHeader, "xff-ip": api.EnforceOnKeyXFFIP,
	"http-cookie": api.EnforceOnKeyHTTPCookie, "http-path": api.EnforceOnKeyHTTPPath, "sni": api.EnforceOnKeySNI,
	"region-code": api.EnforceOnKeyRegionCode, "user-ip": api.EnforceOnKeyUserIP,
}

// addChoice is an enum flag whose choices are gcloud's lower-case words
// (deny-403, rate-based-ban), read case-insensitively.
func addChoice(fs *pflag.FlagSet, name, usage string, choices map[string]string) *optional[string] {
	words := slices.Sorted(maps.Keys(choices))
	usage += " One of: " + strings.Join(words, ", ") + "."
	return addOptional(fs, name, strings.ToUpper(strings.ReplaceAll(name, "-", "_")), usage, func(s string) (string, error) {
		v := strings.ToLower(strings.TrimSpace(s))
		if _, ok := choices[v]; !ok {
			return "", fmt.Errorf("Invalid choice: '%s'. Valid choices are [%s]", s, strings.Join(words, ", "))
		}
		return v, nil
	})
}

func addRuleFlags(cmd *cobra.Command) *ruleFlags {
	fs := cmd.Flags()
	f := &ruleFlags{}
	fs.StringVar(&f.policy, "security-policy", "", "The security policy that this rule belongs to.")
	f.description = addString(fs, "description", "An optional, textual description for the rule.")
	f.srcIPRanges = addList(fs, "src-ip-ranges", "The source IPs/IP ranges to match for this rule (at most 10). To match all IPs specify *.")
	f.expression = addString(fs, "expression", "The Cloud Armor rules language expression to match for this rule.")
	f.action = addChoice(fs, "action", "The action to take if the request matches the match condition.", ruleActions)
	f.preview = addOptionalBool(fs, "preview", "If specified, the action will not be enforced.")
	f.redirectType = addChoice(fs, "redirect-type", "Type for the redirect action.", redirectTypes)
	f.redirectTarget = addString(fs, "redirect-target", "URL target for the redirect action.")
	f.rateCount = addInt(fs, "rate-limit-threshold-count", "Number of HTTP(S) requests for calculating the threshold for rate limiting requests.")
	f.rateInterval = addInt(fs, "rate-limit-threshold-interval-sec", "Interval over which the threshold for rate limiting requests is computed.")
	f.conformAction = addChoice(fs, "conform-action", "Action to take when requests are under the given threshold.", conformActions)
	f.exceedAction = addChoice(fs, "exceed-action", "Action to take when requests are above the given threshold.", exceedActions)
	f.exceedRedirectType = addChoice(fs, "exceed-redirect-type", "Type for the redirect action that is configured as the exceed action.", redirectTypes)
	f.exceedRedirectTarget = addString(fs, "exceed-redirect-target", "URL target for the redirect action that is configured as the exceed action.")
	f.enforceOnKey = addChoice(fs, "enforce-on-key", "Different key types available to enforce the rate limit threshold limit on.", enforceOnKeys)
	f.enforceOnKeyName = addString(fs, "enforce-on-key-name", "The name of the HTTP header or cookie to key rate limits on (with --enforce-on-key=http-header or http-cookie).")
	f.banCount = addInt(fs, "ban-threshold-count", "Number of HTTP(S) requests for calculating the threshold for banning requests.")
	f.banInterval = addInt(fs, "ban-threshold-interval-sec", "Interval over which the threshold for banning requests is computed.")
	f.banDuration = addInt(fs, "ban-duration-sec", "Number of seconds for which the key is banned after the ban threshold is exceeded.")
	f.headersToAdd = addList(fs, "request-headers-to-add", "A comma-separated list of header names and values (NAME=VALUE) to add to requests that match this rule.")
	return f
}

// rule makes the body gcloud sends: only the fields whose flags were given, and the
// priority.
func (f *ruleFlags) rule(priority int32) (map[string]any, error) {
	r := map[string]any{"priority": priority}
	if f.description.set {
		r["description"] = f.description.value
	}
	switch {
	case f.srcIPRanges.set:
		r["match"] = map[string]any{"versionedExpr": api.SrcIPsV1, "config": map[string]any{"srcIpRanges": f.srcIPRanges.items}}
	case f.expression.set:
		r["match"] = map[string]any{"expr": map[string]any{"expression": f.expression.value}}
	}
	if f.action.set {
		r["action"] = ruleActions[f.action.value]
	}
	if f.preview.set {
		r["preview"] = f.preview.value
	}
	if f.redirectType.set || f.redirectTarget.set {
		r["redirectOptions"] = redirectOptions(f.redirectTarget)
	}
	rate := map[string]any{}
	if f.rateCount.set || f.rateInterval.set {
		rate["rateLimitThreshold"] = threshold(f.rateCount, f.rateInterval)
	}
	if f.banCount.set || f.banInterval.set {
		rate["banThreshold"] = threshold(f.banCount, f.banInterval)
	}
	if f.banDuration.set {
		rate["banDurationSec"] = f.banDuration.value
	}
	if f.conformAction.set {
		rate["conformAction"] = conformActions[f.conformAction.value]
	}
	if f.exceedAction.set {
		rate["exceedAction"] = exceedActions[f.exceedAction.value]
	}
	if f.exceedRedirectType.set || f.exceedRedirectTarget.set {
		rate["exceedRedirectOptions"] = redirectOptions(f.exceedRedirectTarget)
	}
	if f.enforceOnKey.set {
		rate["enforceOnKey"] = enforceOnKeys[f.enforceOnKey.value]
	}
	if f.enforceOnKeyName.set {
		rate["enforceOnKeyName"] = f.enforceOnKeyName.value
	}
	if len(rate) > 0 {
		r["rateLimitOptions"] = rate
	}
	if f.headersToAdd.set {
		var adds []map[string]string
		for _, h := range f.headersToAdd.items {
			name, value, ok := strings.Cut(h, "=")
			if !ok {
				return nil, fmt.Errorf("argument --request-headers-to-add: %q is not NAME=VALUE", h)
			}
			adds = append(adds, map[string]string{"headerName": name, "headerValue": value})
		}
		r["headerAction"] = map[string]any{"requestHeadersToAdds": adds}
	}
	return r, nil
}

func redirectOptions(target *optional[string]) map[string]any {
	o := map[string]any{"type": api.RedirectExternal302}
	if target.set {
		o["target"] = target.value
	}
	return o
}

func threshold(count, interval *optional[int64]) map[string]any {
	t := map[string]any{}
	if count.set {
		t["count"] = count.value
	}
	if interval.set {
		t["intervalSec"] = interval.value
	}
	return t
}

// parsePriority reads a rule's PRIORITY argument.
func parsePriority(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("priority must be a valid non-negative integer.")
	}
	return int32(n), nil
}

// policyTarget resolves the --security-policy a rules command names.
func policyTarget(s *session, rt *resourceType, policy string) (target, error) {
	if policy == "" {
		return target{}, fmt.Errorf("argument --security-policy: Must be specified.")
	}
	return s.target(&scopeFlags{rt: rt}, policy)
}

// ruleCommand makes `rules VERB PRIORITY --security-policy=P`.
func (a *app) ruleCommand(rt *resourceType, verb, short string, run func(s *session, policy target, priority int32, f *ruleFlags) error) *cobra.Command {
	var f *ruleFlags
	cmd := a.command(verb+" PRIORITY", short, exactArgs("PRIORITY"), func(s *session, args []string) error {
		priority, err := parsePriority(args[0])
		if err != nil {
			return err
		}
		t, err := policyTarget(s, rt, f.policy)
		if err != nil {
			return err
		}
		return run(s, t, priority, f)
	})
	f = addRuleFlags(cmd)
	return cmd
}

func (a *app) ruleCreateCommand(rt *resourceType) *cobra.Command {
	return a.ruleCommand(rt, "create", "Create a Cloud Armor security policy rule.", func(s *session, t target, priority int32, f *ruleFlags) error {
		if !f.action.set {
			return fmt.Errorf("argument --action: Must be specified.")
		}
		if !f.srcIPRanges.set && !f.expression.set {
			return fmt.Errorf("Exactly one of (--expression | --src-ip-ranges) must be specified.")
		}
		body, err := f.rule(priority)
		if err != nil {
			return err
		}
		return s.post(t.path(rt.collection, "addRule"), body)
	})
}

// ruleUpdateCommand sends patchRule with gcloud's updateMask: changing the action
// clears the options the new action does not take.
func (a *app) ruleUpdateCommand(rt *resourceType) *cobra.Command {
	return a.ruleCommand(rt, "update", "Update a Cloud Armor security policy rule.", func(s *session, t target, priority int32, f *ruleFlags) error {
		body, err := f.rule(priority)
		if err != nil {
			return err
		}
		if len(body) == 1 {
			return errNoChange
		}
		var mask []string
		if f.action.set {
			if a := ruleActions[f.action.value]; a != api.ActionRedirect {
				mask = append(mask, "redirect_options")
			}
			if a := ruleActions[f.action.value]; a != api.ActionThrottle && a != api.ActionRateBasedBan {
				mask = append(mask, "rate_limit_options")
			}
		} else if f.exceedAction.set && f.exceedAction.value != "redirect" {
			mask = append(mask, "rate_limit_options.exceed_redirect_options")
		}
		path := t.path(rt.collection, "patchRule") + "?priority=" + strconv.Itoa(int(priority))
		if len(mask) > 0 {
			path += "&updateMask=" + url.QueryEscape(strings.Join(mask, ","))
		}
		return s.post(path, body)
	})
}

func (a *app) ruleDeleteCommand(rt *resourceType) *cobra.Command {
	var policy string
	cmd := a.command("delete PRIORITY [PRIORITY ...]", "Delete Cloud Armor security policy rules.", someArgs("PRIORITY"), func(s *session, args []string) error {
		t, err := policyTarget(s, rt, policy)
		if err != nil {
			return err
		}
		var priorities []int32
		lines := []string{"The following security policy rules will be deleted:"}
		for _, arg := range args {
			p, err := parsePriority(arg)
			if err != nil {
				return err
			}
			priorities = append(priorities, p)
			lines = append(lines, fmt.Sprintf(" - [%d]", p))
		}
		if err := s.confirm(strings.Join(lines, "\n"), "Deletion aborted by user."); err != nil {
			return err
		}
		for _, p := range priorities {
			if err := s.post(t.path(rt.collection, "removeRule")+"?priority="+strconv.Itoa(int(p)), nil); err != nil {
				return err
			}
		}
		return nil
	})
	cmd.Flags().StringVar(&policy, "security-policy", "", "The security policy that these rules belong to.")
	return cmd
}

func (a *app) ruleDescribeCommand(rt *resourceType) *cobra.Command {
	var policy string
	cmd := a.command("describe PRIORITY", "Describe a Cloud Armor security policy rule.", exactArgs("PRIORITY"), func(s *session, args []string) error {
		priority, err := parsePriority(args[0])
		if err != nil {
			return err
		}
		t, err := policyTarget(s, rt, policy)
		if err != nil {
			return err
		}
		var rule any
		if err := s.get(t.path(rt.collection, "getRule")+"?priority="+strconv.Itoa(int(priority)), &rule); err != nil {
			return err
		}
		return s.show("yaml", []any{rule}, true)
	})
	cmd.Flags().StringVar(&policy, "security-policy", "", "The security policy that this rule belongs to.")
	return cmd
}
