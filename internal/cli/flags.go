package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Flag types with gcloud's semantics. Each records whether the user gave it, because
// update commands change only what was given, and "--flag=" (an empty list or string)
// can mean "clear".

// optional is a flag with a typed value that remembers whether it was set.
type optional[T any] struct {
	value T
	set   bool
	parse func(string) (T, error)
	typ   string
}

func (o *optional[T]) Set(s string) error {
	v, err := o.parse(s)
	if err != nil {
		return err
	}
	o.value, o.set = v, true
	return nil
}

func (o *optional[T]) String() string {
	if !o.set {
		return ""
	}
	return fmt.Sprint(o.value)
}

func (o *optional[T]) Type() string { return o.typ }

// apply stores the value in *dst when the flag was given.
func (o *optional[T]) apply(dst *T) {
	if o.set {
		*dst = o.value
	}
}

// applyPtr stores a pointer to the value in *dst when the flag was given.
func (o *optional[T]) applyPtr(dst **T) {
	if o.set {
		v := o.value
		*dst = &v
	}
}

func addOptional[T any](fs *pflag.FlagSet, name, typ, usage string, parse func(string) (T, error)) *optional[T] {
	o := &optional[T]{parse: parse, typ: typ}
	fs.Var(o, name, usage)
	return o
}

func addString(fs *pflag.FlagSet, name, usage string) *optional[string] {
	return addOptional(fs, name, "string", usage, func(s string) (string, error) { return s, nil })
}

func addInt(fs *pflag.FlagSet, name, usage string) *optional[int64] {
	return addOptional(fs, name, "int", usage, func(s string) (int64, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	})
}

func addFloat(fs *pflag.FlagSet, name, usage string) *optional[float64] {
	return addOptional(fs, name, "float", usage, func(s string) (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	})
}

// addDuration is gcloud's duration flag, in whole seconds: "3600", "3600s", "1h".
func addDuration(fs *pflag.FlagSet, name, usage string) *optional[int64] {
	return addOptional(fs, name, "DURATION", usage, parseDuration)
}

// addEnum accepts one of choices, case-insensitively and with "-" for "_", as gcloud
// accepts "serverless" for SERVERLESS.
func addEnum(fs *pflag.FlagSet, name, usage string, choices ...string) *optional[string] {
	usage += " One of: " + strings.Join(choices, ", ") + "."
	return addOptional(fs, name, strings.ToUpper(strings.ReplaceAll(name, "-", "_")), usage, func(s string) (string, error) {
		return parseEnum(s, choices)
	})
}

func parseEnum(s string, choices []string) (string, error) {
	v := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	if !slices.Contains(choices, v) {
		return "", fmt.Errorf("Invalid choice: '%s'. Valid choices are [%s]", s, strings.Join(choices, ", "))
	}
	return v, nil
}

// listValue is gcloud's list flag: "a,b,c", or "^:^a:b:c" to split on another
// delimiter. Repeating the flag adds to the list; "--flag=" sets the empty list.
type listValue struct {
	items []string
	set   bool
}

func (l *listValue) Set(s string) error {
	l.items = append(l.items, splitList(s)...)
	l.set = true
	return nil
}

func (l *listValue) String() string { return strings.Join(l.items, ",") }
func (l *listValue) Type() string   { return "list" }

func addList(fs *pflag.FlagSet, name, usage string) *listValue {
	l := &listValue{}
	fs.Var(l, name, usage)
	return l
}

// repeated is a flag given once per value, never split, for values that may hold
// commas themselves (custom headers, dictionaries).
type repeated struct {
	items []string
}

func (r *repeated) Set(s string) error { r.items = append(r.items, s); return nil }
func (r *repeated) String() string     { return strings.Join(r.items, " ") }
func (r *repeated) Type() string       { return "string" }

func addRepeated(fs *pflag.FlagSet, name, usage string) *repeated {
	r := &repeated{}
	fs.Var(r, name, usage+" Repeat the flag for more than one.")
	return r
}

// optionalBool is gcloud's --[no-]NAME pair: unset, true or false.
type optionalBool struct {
	value, set bool
}

// applyPtr stores a pointer to the value in *dst when either flag was given.
func (b *optionalBool) applyPtr(dst **bool) {
	if b.set {
		v := b.value
		*dst = &v
	}
}

// boolSide is one of the two flags of an optionalBool.
type boolSide struct {
	target *optionalBool
	negate bool
}

func (b boolSide) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not a boolean", s)
	}
	b.target.value, b.target.set = v != b.negate, true
	return nil
}

func (b boolSide) String() string { return "false" }
func (b boolSide) Type() string   { return "bool" }

func addOptionalBool(fs *pflag.FlagSet, name, usage string) *optionalBool {
	b := &optionalBool{}
	fs.Var(boolSide{target: b}, name, usage)
	fs.Lookup(name).NoOptDefVal = "true"
	fs.Var(boolSide{target: b, negate: true}, "no-"+name, "Opposite of --"+name+".")
	fs.Lookup("no-" + name).NoOptDefVal = "true"
	return b
}
