package api

import "fmt"

func validateRange(field string, v, min, max int64) error {
	if v < min || v > max {
		return Invalid(field, v, fmt.Sprintf("Must be between %d and %d.", min, max))
	}
	return nil
}

func validateMax(field string, n, max int) error {
	if n > max {
		return Invalid(field, n, fmt.Sprintf("At most %d values are allowed.", max))
	}
	return nil
}

func validateNonNegative(field string, v float64) error {
	if v < 0 {
		return Invalid(field, v, "Must be greater than or equal to 0.")
	}
	return nil
}

func validateFraction(field string, v float64) error {
	if v < 0 || v > 1 {
		return Invalid(field, v, "Must be between 0.0 and 1.0.")
	}
	return nil
}

// validateDuration checks a protobuf Duration as GCP bounds it (0 to 10,000 years).
func validateDuration(field string, d *Duration) error {
	if d == nil {
		return nil
	}
	return firstError(
		validateRange(field+".seconds", d.Seconds, 0, 315576000000),
		validateRange(field+".nanos", d.Nanos, 0, 999999999),
	)
}

// isHeaderName reports whether s is an RFC 9110 token, the syntax of a field name.
func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' || c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}
