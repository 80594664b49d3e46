package api

import (
	"fmt"
	"slices"
)

// SslPolicy is the set of TLS versions and cipher suites a target HTTPS proxy accepts
// from clients: a profile (COMPATIBLE, MODERN, RESTRICTED, or CUSTOM with its own
// features) and a minimum TLS version. TLS 1.3 is always on, with all its suites.
type SslPolicy struct {
	Meta
	Fingerprint     string   `json:"fingerprint,omitempty"`
	Profile         string   `json:"profile,omitempty"`
	MinTLSVersion   string   `json:"minTlsVersion,omitempty"`
	CustomFeatures  []string `json:"customFeatures,omitempty"`
	EnabledFeatures []string `json:"enabledFeatures,omitempty"` // output: the profile's features
	Region          string   `json:"region,omitempty"`
}

// SSL policy profiles and minimum TLS versions.
const (
	ProfileCompatible = "COMPATIBLE"
	ProfileModern     = "MODERN"
	ProfileRestricted = "RESTRICTED"
	ProfileCustom     = "CUSTOM"

	TLS10 = "TLS_1_0"
	TLS11 = "TLS_1_1"
	TLS12 = "TLS_1_2"
)

// SslFeatures are the TLS 1.0–1.2 cipher suites an SSL policy can enable, in GCP's
// names (which are the IANA names Go's crypto/tls uses), strongest first;
// sslPolicies.listAvailableFeatures lists them.
var SslFeatures = []string{
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"TLS_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_RSA_WITH_AES_128_CBC_SHA",
	"TLS_RSA_WITH_AES_256_CBC_SHA",
	"TLS_RSA_WITH_3DES_EDE_CBC_SHA",
}

// ProfileFeatures is what each pre-configured profile enables, as GCP's SSL policy
// overview tabulates it: COMPATIBLE everything, MODERN only forward-secret key
// exchange (ECDHE), RESTRICTED only forward-secret AEAD suites (no CBC).
func ProfileFeatures(profile string) []string {
	switch profile {
	case ProfileCompatible:
		return slices.Clone(SslFeatures)
	case ProfileModern:
		return slices.Clone(SslFeatures[:10])
	case ProfileRestricted:
		return slices.Clone(SslFeatures[:6])
	}
	return nil
}

func (p *SslPolicy) SetDefaults() {
	p.Kind = "compute#sslPolicy"
	if p.Profile == "" {
		p.Profile = ProfileCompatible
	}
	if p.MinTLSVersion == "" {
		p.MinTLSVersion = TLS10
	}
	if p.Profile == ProfileCustom {
		p.EnabledFeatures = slices.Clone(p.CustomFeatures)
	} else {
		p.EnabledFeatures = ProfileFeatures(p.Profile)
	}
}

func (p *SslPolicy) Validate() error {
	if err := ValidateName("resource.name", p.Name); err != nil {
		return err
	}
	if err := firstError(
		oneOf("resource.profile", p.Profile, ProfileCompatible, ProfileModern, ProfileRestricted, ProfileCustom),
		oneOf("resource.minTlsVersion", p.MinTLSVersion, TLS10, TLS11, TLS12),
	); err != nil {
		return err
	}
	switch {
	case p.Profile == ProfileCustom && len(p.CustomFeatures) == 0:
		return Conflict("resource.customFeatures", "Custom features must be specified when the profile is CUSTOM.")
	case p.Profile != ProfileCustom && len(p.CustomFeatures) > 0:
		return Conflict("resource.customFeatures", fmt.Sprintf("Custom features cannot be specified when the profile is %s.", p.Profile))
	}
	for i, f := range p.CustomFeatures {
		if !slices.Contains(SslFeatures, f) {
			return Invalid(fmt.Sprintf("resource.customFeatures[%d]", i), f, "Unsupported SSL feature. Call sslPolicies.listAvailableFeatures for the supported ones.")
		}
	}
	return nil
}

func (p *SslPolicy) References() []Ref { return nil }

func (p *SslPolicy) FingerprintField() *string { return &p.Fingerprint }
