package armor

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

	"meridian/api"
)

// The attributes a rule's expression reads, as Cloud Armor's custom rules language
// names them [ARMOR-LANG]. Each is a variable of its own (CEL resolves the dotted
// name), so that the checker refuses an attribute Cloud Armor does not have.
const (
	attrHeaders    = "request.headers"
	attrMethod     = "request.method"
	attrPath       = "request.path"
	attrQuery      = "request.query"
	attrScheme     = "request.scheme"
	attrOriginIP   = "origin.ip"
	attrRegionCode = "origin.region_code"
)

// maxSubexpressions is Cloud Armor's limit of subexpressions (comparisons and calls
// joined by &&, || and !) in one rule's expression.
const maxSubexpressions = 5

// An expression's evaluation is bounded without a cost limit: at most five
// subexpressions, RE2's regular expressions run in linear time, and a request's
// header block is at most 64 KiB.

var (
	envOnce sync.Once
	celEnv  *cel.Env
	envErr  error
)

// environment is the one CEL environment every expression compiles in: Cloud Armor's
// attributes and its functions beyond CEL's own (.matches, .contains, .startsWith,
// .endsWith, .size are CEL's).
func environment() (*cel.Env, error) {
	envOnce.Do(func() {
		str := func(f func(string) ref.Val) cel.OverloadOpt {
			return cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := v.(types.String)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return f(string(s))
			})
		}
		celEnv, envErr = cel.NewEnv(
			cel.Variable(attrHeaders, cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable(attrMethod, cel.StringType),
			cel.Variable(attrPath, cel.StringType),
			cel.Variable(attrQuery, cel.StringType),
			cel.Variable(attrScheme, cel.StringType),
			cel.Variable(attrOriginIP, cel.StringType),
			cel.Variable(attrRegionCode, cel.StringType),
			cel.Function("inIpRange",
				cel.Overload("inIpRange_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
					cel.BinaryBinding(inIPRange))),
			cel.Function("lower",
				cel.MemberOverload("string_lower", []*cel.Type{cel.StringType}, cel.StringType,
					str(func(s string) ref.Val { return types.String(strings.ToLower(s)) }))),
			cel.Function("upper",
				cel.MemberOverload("string_upper", []*cel.Type{cel.StringType}, cel.StringType,
					str(func(s string) ref.Val { return types.String(strings.ToUpper(s)) }))),
			cel.Function("urlDecode",
				cel.MemberOverload("string_urlDecode", []*cel.Type{cel.StringType}, cel.StringType,
					str(urlDecode))),
			cel.Function("base64Decode",
				cel.MemberOverload("string_base64Decode", []*cel.Type{cel.StringType}, cel.StringType,
					str(base64Decode))),
			// Cloud Armor's language has one macro, has(), which also tests a map's key
			// (has(request.headers['x'])); CEL's comprehensions are not in it.
			cel.ClearMacros(),
			cel.Macros(cel.GlobalMacro("has", 1, hasMacro)),
			cel.ParserExpressionSizeLimit(4096),
			cel.ParserRecursionLimit(64),
		)
	})
	return celEnv, envErr
}

// hasMacro is has() for a field (CEL's presence test) or for a map's key
// (has(m['k']), Cloud Armor's way to ask whether a header was sent: k in m).
func hasMacro(eh cel.MacroExprFactory, _ ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
	switch a := args[0]; a.Kind() {
	case ast.SelectKind:
		s := a.AsSelect()
		return eh.NewPresenceTest(s.Operand(), s.FieldName()), nil
	case ast.CallKind:
		if c := a.AsCall(); c.FunctionName() == operators.Index && len(c.Args()) == 2 {
			return eh.NewCall(operators.In, c.Args()[1], c.Args()[0]), nil
		}
	}
	return nil, eh.NewError(args[0].ID(), "has() takes a field or a map's key, as in has(request.headers['user-agent'])")
}

// subexpressions counts the comparisons and calls an expression joins with &&, ||
// and !, as Cloud Armor counts them against its limit.
func subexpressions(e ast.Expr) int {
	if e.Kind() == ast.CallKind {
		switch c := e.AsCall(); c.FunctionName() {
		case operators.LogicalAnd, operators.LogicalOr, operators.LogicalNot:
			n := 0
			for _, a := range c.Args() {
				n += subexpressions(a)
			}
			return n
		}
	}
	return 1
}

func inIPRange(ip, cidr ref.Val) ref.Val {
	a, ok1 := ip.(types.String)
	c, ok2 := cidr.(types.String)
	if !ok1 || !ok2 {
		return types.MaybeNoSuchOverloadErr(ip)
	}
	addr, err := netip.ParseAddr(string(a))
	if err != nil {
		return types.False // an origin without a readable address is in no range
	}
	p, err := parseRange(string(c))
	if err != nil {
		return types.NewErr("inIpRange: %q is not an IP range", string(c))
	}
	return types.Bool(p.Contains(addr.Unmap()))
}

// parseRange reads inIpRange's range: a CIDR block or a single address.
func parseRange(s string) (netip.Prefix, error) {
	if s == "*" {
		return netip.Prefix{}, fmt.Errorf("inIpRange takes an address or CIDR range, not *")
	}
	return api.ParseSrcIPRange(s)
}

// urlDecode decodes %XX sequences and '+' as Cloud Armor does; a sequence that is not
// one stays as it is, and the valid ones around it are still decoded (a stray '%'
// must not hide an encoded attack from a rule).
func urlDecode(s string) ref.Val {
	return types.String(decodePercent(s))
}

func decodePercent(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && unhex(s[i+1]) >= 0 && unhex(s[i+2]) >= 0:
			b = append(b, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// base64Decode decodes standard or URL-safe base64, padded or not, as Cloud Armor
// does ('_' and '-' read as '/' and '+'); what does not decode is "".
func base64Decode(s string) ref.Val {
	s = strings.NewReplacer("_", "/", "-", "+").Replace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if d, err := enc.DecodeString(s); err == nil {
			return types.String(strings.ToValidUTF8(string(d), "\uFFFD"))
		}
	}
	return types.String("")
}

// ipRangeLiteral finds inIpRange's constant range arguments, to check them when the
// rule is stored rather than when a request meets them.
var ipRangeLiteral = regexp.MustCompile(`inIpRange\s*\([^,()]*,\s*(?:'([^']*)'|"([^"]*)")\s*\)`)

// program is one compiled expression.
type program struct {
	prg cel.Program
}

// compileExpr checks an expression against Cloud Armor's language and prepares it;
// the error says what is wrong in words a rule's author can act on.
func compileExpr(expr string) (*program, error) {
	env, err := environment()
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(expr, "\r\n") {
		return nil, fmt.Errorf("an expression is one line: it has a line break")
	}
	checked, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, describeIssue(iss.Errors()[0])
	}
	if !checked.OutputType().IsExactType(types.BoolType) {
		return nil, fmt.Errorf("the expression must evaluate to a boolean, not %s", checked.OutputType())
	}
	if n := subexpressions(checked.NativeRep().Expr()); n > maxSubexpressions {
		return nil, fmt.Errorf("expression count of %d exceed maximum of %d expressions", n, maxSubexpressions)
	}
	for _, m := range ipRangeLiteral.FindAllStringSubmatch(expr, -1) {
		r := m[1] + m[2]
		if _, err := parseRange(r); err != nil {
			return nil, fmt.Errorf("inIpRange: %q is not an IP address or CIDR range", r)
		}
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	return &program{prg: prg}, nil
}

// describeIssue is CEL's first complaint on one line, with the column it points at.
func describeIssue(e *cel.Error) error {
	msg := strings.TrimSuffix(e.Message, " (in container '')")
	if loc := e.Location; loc != nil && loc.Column() >= 0 {
		return fmt.Errorf("%s (at column %d)", msg, loc.Column()+1)
	}
	return fmt.Errorf("%s", msg)
}

// CheckExpression reports whether an expression is one Cloud Armor's language accepts,
// as the control plane checks a rule before storing it.
func CheckExpression(expr string) error {
	_, err := compileExpr(expr)
	return err
}

// eval runs the expression on a request. An expression that fails on this request (a
// header it reads is absent, its cost runs out) does not match.
func (p *program) eval(a *activation) bool {
	v, _, err := p.prg.Eval(a)
	if err != nil {
		return false
	}
	b, ok := v.(types.Bool)
	return ok && bool(b)
}

// activation gives an expression the request's attributes, each made when first read.
type activation struct {
	req     *Request
	headers *headerMap
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) ResolveName(name string) (any, bool) {
	r := a.req
	switch name {
	case attrHeaders:
		if a.headers == nil {
			a.headers = &headerMap{req: r}
		}
		return a.headers, true
	case attrMethod:
		return r.Method, true
	case attrPath:
		return r.Path, true
	case attrQuery:
		return r.Query, true
	case attrScheme:
		return r.Scheme, true
	case attrOriginIP:
		if !r.IP.IsValid() {
			return "", true
		}
		return r.IP.String(), true
	case attrRegionCode:
		if r.RegionCode == "" && r.Locate != nil {
			r.RegionCode = r.Locate(r.IP)
		}
		return r.RegionCode, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
