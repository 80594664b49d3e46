package api

import (
	"fmt"
	"regexp"
	"strings"
)

// FieldError is a validation failure of one field of a request, rendered in the words
// GCP uses, e.g. "Invalid value for field 'resource.name': 'Foo'. Must be a match of
// regex '…'". Reason is GCP's error reason: "invalid", "required" or "conditionNotMet".
type FieldError struct {
	Field   string // "resource.cdnPolicy.defaultTtl"
	Reason  string
	Message string
}

func (e *FieldError) Error() string { return e.Message }

// Invalid reports a field whose value is not allowed.
func Invalid(field string, value any, why string) *FieldError {
	msg := fmt.Sprintf("Invalid value for field '%s': '%v'. %s", field, value, why)
	return &FieldError{Field: field, Reason: "invalid", Message: strings.TrimSpace(msg)}
}

// Required reports a missing field.
func Required(field string) *FieldError {
	return &FieldError{Field: field, Reason: "required", Message: fmt.Sprintf("Required field '%s' not specified", field)}
}

// Conflict reports fields that may not be set together.
func Conflict(field, msg string) *FieldError {
	return &FieldError{Field: field, Reason: "invalid", Message: msg}
}

// nameRegex is RFC 1035's label as GCP states it for resource names.
const nameRegex = `[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?`

var namePattern = regexp.MustCompile(`^` + nameRegex + `$`)

// ValidateName checks a resource name against GCP's RFC 1035 rule: 1-63 characters,
// a lowercase letter first, then lowercase letters, digits or hyphens, not ending in a
// hyphen.
func ValidateName(field, name string) error {
	if name == "" {
		return Required(field)
	}
	if !namePattern.MatchString(name) {
		return Invalid(field, name, fmt.Sprintf("Must be a match of regex '(?:%s)'", nameRegex))
	}
	return nil
}

// oneOf checks that v is one of the allowed enum values (empty is allowed and means the
// default).
func oneOf(field, v string, allowed ...string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return Invalid(field, v, "Must be one of ["+strings.Join(allowed, ", ")+"].")
}

// firstError returns the first non-nil error; validation reports one problem at a time,
// as GCP does.
func firstError(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
