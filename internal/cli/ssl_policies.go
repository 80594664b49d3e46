package cli

import (
	"net/http"

	"github.com/spf13/cobra"

	"meridian/api"
)

func sslPolicyType() *resourceType {
	return &resourceType{
		collection: "sslPolicies", noun: "SSL policy", plural: "SSL policies", regional: true, globalByDefault: true,
		listFormat: "table(name, profile, minTlsVersion)",
	}
}

// sslPoliciesCommand is `compute ssl-policies`.
func (a *app) sslPoliciesCommand() *cobra.Command {
	rt := sslPolicyType()
	return a.group("ssl-policies", "List, create, delete and update SSL policies.",
		a.sslPolicyCreateCommand(rt),
		a.deleteCommand(rt),
		a.describeCommand(rt),
		a.listCommand(rt),
		a.sslPolicyUpdateCommand(rt),
		a.sslPolicyFeaturesCommand(rt),
	)
}

// sslPolicyFlags are the flags create and update share.
type sslPolicyFlags struct {
	profile, minTLS *optional[string]
	features        *listValue
}

func addSSLPolicyFlags(cmd *cobra.Command) *sslPolicyFlags {
	fs := cmd.Flags()
	return &sslPolicyFlags{
		profile: addEnum(fs, "profile", "SSL policy profile (default COMPATIBLE).", api.ProfileCompatible, api.ProfileModern, api.ProfileRestricted, api.ProfileCustom),
		minTLS:  addEnum(fs, "min-tls-version", "Minimum TLS version (default 1.0).", "1.0", "1.1", "1.2"),
		features: addList(fs, "custom-features", "A comma-separated list of custom features, required when the profile being used is CUSTOM. "+
			"`meridian compute ssl-policies list-available-features` lists them."),
	}
}

// minTLSVersion maps gcloud's 1.0, 1.1, 1.2 to the API's TLS_1_0 …
func minTLSVersion(v string) string {
	return map[string]string{"1.0": api.TLS10, "1.1": api.TLS11, "1.2": api.TLS12}[v]
}

func (a *app) sslPolicyCreateCommand(rt *resourceType) *cobra.Command {
	var f *sslPolicyFlags
	var description *optional[string]
	cmd := a.resourceCommand(rt, "create", "Create a new SSL policy.", "create", func(s *session, t target) error {
		p := api.SslPolicy{Meta: api.Meta{Name: t.name}, Profile: api.ProfileCompatible, MinTLSVersion: api.TLS10}
		description.apply(&p.Description)
		f.profile.apply(&p.Profile)
		if f.minTLS.set {
			p.MinTLSVersion = minTLSVersion(f.minTLS.value)
		}
		if f.features.set {
			p.CustomFeatures = f.features.items
		}
		return s.insert(rt, t.loc, &p, t.name)
	})
	f = addSSLPolicyFlags(cmd)
	description = addString(cmd.Flags(), "description", "An optional, textual description for the SSL policy.")
	return cmd
}

// sslPolicyUpdateCommand patches the fields given, with the policy's fingerprint.
func (a *app) sslPolicyUpdateCommand(rt *resourceType) *cobra.Command {
	var f *sslPolicyFlags
	cmd := a.resourceCommand(rt, "update", "Update an SSL policy.", "update", func(s *session, t target) error {
		if !f.profile.set && !f.minTLS.set && !f.features.set {
			return errNoChange
		}
		var cur api.SslPolicy
		if err := s.get(t.path(rt.collection), &cur); err != nil {
			return err
		}
		patch := map[string]any{"fingerprint": cur.Fingerprint}
		if f.profile.set {
			patch["profile"] = f.profile.value
			if f.profile.value != api.ProfileCustom && !f.features.set {
				patch["customFeatures"] = nil // a pre-configured profile has none
			}
		}
		if f.minTLS.set {
			patch["minTlsVersion"] = minTLSVersion(f.minTLS.value)
		}
		if f.features.set {
			patch["customFeatures"] = f.features.items
		}
		op, err := s.client.mutate(s.ctx, http.MethodPatch, t.path(rt.collection), patch)
		if err != nil {
			return err
		}
		s.status("Updated [%s].", op.TargetLink)
		return nil
	})
	f = addSSLPolicyFlags(cmd)
	return cmd
}

// sslPolicyFeaturesCommand is `list-available-features [--region]`.
func (a *app) sslPolicyFeaturesCommand(rt *resourceType) *cobra.Command {
	var region string
	cmd := a.command("list-available-features", "List available features that can be specified in an SSL policy.", exactArgs(), func(s *session, _ []string) error {
		var out struct {
			Features []string `json:"features"`
		}
		if err := s.get(computePath(s.project, location{region: region}, rt.collection)+"/listAvailableFeatures", &out); err != nil {
			return err
		}
		items := make([]any, len(out.Features))
		for i, f := range out.Features {
			items[i] = f
		}
		return s.show("value(.)", items, false)
	})
	cmd.Flags().StringVar(&region, "region", "", "If provided, only features for the given region are shown.")
	return cmd
}
