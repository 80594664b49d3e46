package api

// Resource is implemented by every Compute resource type Meridian stores. The control
// plane drives it: decode, SetDefaults, Validate, resolve References, store.
type Resource interface {
	ResourceMeta() *Meta
	// SetDefaults fills GCP's defaults for fields the request left unset.
	SetDefaults()
	// Validate checks the resource on its own (references are checked by the caller,
	// which can see the store).
	Validate() error
	// References lists the fields that name other resources.
	References() []Ref
}

// Fingerprinted is implemented by the resources that carry GCP's optimistic-locking
// fingerprint.
type Fingerprinted interface {
	FingerprintField() *string
}

// Redactor is implemented by resources with stored fields the API never returns
// (private keys, signed URL key values, a NEG's endpoint list).
type Redactor interface {
	Redact()
}

// Ref is one reference field of a resource. Value points into the resource so the
// control plane can rewrite it to its canonical relative path.
type Ref struct {
	Field       string   // as GCP names it in errors, e.g. "resource.defaultService"
	Value       *string  // the reference; empty means unset
	Collections []string // the collections it may name
}

// ResourceMeta returns the common fields; every resource embeds Meta.
func (m *Meta) ResourceMeta() *Meta { return m }

func refs(field string, values []string, collections ...string) []Ref {
	out := make([]Ref, 0, len(values))
	for i := range values {
		out = append(out, Ref{Field: field, Value: &values[i], Collections: collections})
	}
	return out
}

func ref(field string, value *string, collections ...string) []Ref {
	if *value == "" {
		return nil
	}
	return []Ref{{Field: field, Value: value, Collections: collections}}
}

func ptr[T any](v T) *T { return &v }

// Interface guards.
var (
	_ Resource = (*NetworkEndpointGroup)(nil)
	_ Resource = (*BackendService)(nil)
	_ Resource = (*UrlMap)(nil)
	_ Resource = (*SslCertificate)(nil)
	_ Resource = (*TargetHttpsProxy)(nil)
	_ Resource = (*TargetHttpProxy)(nil)
	_ Resource = (*Address)(nil)
	_ Resource = (*ForwardingRule)(nil)
	_ Resource = (*HealthCheck)(nil)
	_ Resource = (*SslPolicy)(nil)
	_ Resource = (*SecurityPolicy)(nil)

	_ Fingerprinted = (*BackendService)(nil)
	_ Fingerprinted = (*SecurityPolicy)(nil)
	_ Fingerprinted = (*UrlMap)(nil)
	_ Fingerprinted = (*TargetHttpsProxy)(nil)
	_ Fingerprinted = (*TargetHttpProxy)(nil)
	_ Fingerprinted = (*ForwardingRule)(nil)
	_ Fingerprinted = (*SslPolicy)(nil)

	_ Redactor = (*NetworkEndpointGroup)(nil)
	_ Redactor = (*BackendService)(nil)
	_ Redactor = (*SslCertificate)(nil)
)

func (b *BackendService) FingerprintField() *string   { return &b.Fingerprint }
func (u *UrlMap) FingerprintField() *string           { return &u.Fingerprint }
func (t *TargetHttpsProxy) FingerprintField() *string { return &t.Fingerprint }
func (t *TargetHttpProxy) FingerprintField() *string  { return &t.Fingerprint }
func (f *ForwardingRule) FingerprintField() *string   { return &f.Fingerprint }

// TimestampFormat is how Compute writes times (creationTimestamp, expireTime, an
// operation's times): RFC 3339 with milliseconds and a numeric offset.
const TimestampFormat = "2006-01-02T15:04:05.000-07:00"
