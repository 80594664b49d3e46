package api

import (
	"errors"
	"fmt"
	"strings"
)

// PathTemplateSegment is one "/"-separated part of a pathTemplateMatch: a literal, "*"
// (one segment), "**" (any number, only last), or a named variable capturing one of
// those ("{name}" means "{name=*}").
type PathTemplateSegment struct {
	Literal  string
	Variable string
	Wildcard string // "", "*" or "**"
}

// ParsePathTemplate parses GCP's pathTemplateMatch syntax, e.g.
// "/videos/{id}/{format=**}" or "/*/assets/**". A template has at most five variables
// and "**" only in the last segment.
func ParsePathTemplate(t string) ([]PathTemplateSegment, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, errors.New("Must start with '/'.")
	}
	if len(t) > 255 {
		return nil, errors.New("Must be at most 255 characters.")
	}
	parts := strings.Split(t[1:], "/")
	segs := make([]PathTemplateSegment, 0, len(parts))
	vars := map[string]bool{}
	for i, p := range parts {
		seg, err := parseTemplateSegment(p)
		if err != nil {
			return nil, err
		}
		if seg.Wildcard == "**" && i != len(parts)-1 {
			return nil, errors.New("'**' is allowed only in the last segment.")
		}
		if seg.Variable != "" {
			if vars[seg.Variable] {
				return nil, fmt.Errorf("Variable %q appears twice.", seg.Variable)
			}
			vars[seg.Variable] = true
		}
		segs = append(segs, seg)
	}
	if len(vars) > 5 {
		return nil, errors.New("At most 5 variables are allowed.")
	}
	return segs, nil
}

func parseTemplateSegment(p string) (PathTemplateSegment, error) {
	switch {
	case p == "*" || p == "**":
		return PathTemplateSegment{Wildcard: p}, nil
	case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
		name, pattern, hasPattern := strings.Cut(p[1:len(p)-1], "=")
		if !hasPattern {
			pattern = "*"
		}
		if pattern != "*" && pattern != "**" {
			return PathTemplateSegment{}, fmt.Errorf("Variable %q may capture only '*' or '**'.", name)
		}
		if !isTemplateVariable(name) {
			return PathTemplateSegment{}, fmt.Errorf("Invalid variable name %q.", name)
		}
		return PathTemplateSegment{Variable: name, Wildcard: pattern}, nil
	case p == "" || strings.ContainsAny(p, "{}*?#"):
		return PathTemplateSegment{}, fmt.Errorf("Invalid path segment %q.", p)
	}
	return PathTemplateSegment{Literal: p}, nil
}

func isTemplateVariable(s string) bool {
	if s == "" || !(s[0] == '_' || ('a' <= s[0] && s[0] <= 'z') || ('A' <= s[0] && s[0] <= 'Z')) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')) {
			return false
		}
	}
	return true
}
