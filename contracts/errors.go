package contracts

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// ValidationError says why a payload breaks its contract. Its Error() is a
// short, human-readable sentence meant to be sent to the client in an error
// event, e.g. "videoId: expected string, got number".
type ValidationError struct {
	// Field is the dotted path of the offending field ("target.kind"), or ""
	// when the problem is the payload as a whole.
	Field string
	// Reason says what is wrong with it ("required", "unknown field",
	// "must be at most 500 characters, got 612", ...).
	Reason string
	// More counts further problems that Error() does not spell out.
	More int
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.More > 0 {
		fmt.Fprintf(&b, " (and %d more)", e.More)
	}
	return b.String()
}

// discriminator is the property whose const tells the branches of a oneOf
// apart (platform-event.json, domain-event.json). Errors of the branches that
// do not match it are noise and are dropped.
const discriminator = "type"

type problem struct {
	path   []string
	reason string
	kind   jsonschema.ErrorKind
}

func newValidationError(verr *jsonschema.ValidationError) *ValidationError {
	var ps []problem
	collect(verr, &ps)
	if len(ps) == 0 {
		return &ValidationError{Reason: "payload is invalid"}
	}
	type flat struct {
		field, reason string
		rank          int
	}
	fl := make([]flat, len(ps))
	for i, p := range ps {
		fl[i] = flat{fieldName(p.path), p.reason, rank(p.kind)}
	}
	slices.SortFunc(fl, func(a, b flat) int {
		return cmp.Or(cmp.Compare(a.field, b.field), cmp.Compare(a.rank, b.rank), cmp.Compare(a.reason, b.reason))
	})
	// One problem per field, the most basic one: "" is reported as empty,
	// not also as not matching the id pattern.
	fl = slices.CompactFunc(fl, func(a, b flat) bool { return a.field == b.field })
	return &ValidationError{Field: fl[0].field, Reason: fl[0].reason, More: len(fl) - 1}
}

// rank orders the problems of one field from the most to the least basic.
func rank(k jsonschema.ErrorKind) int {
	switch k.(type) {
	case *kind.Required, *kind.AdditionalProperties, *kind.FalseSchema:
		return 0
	case *kind.Type:
		return 1
	case *kind.Const, *kind.Enum:
		return 2
	case *kind.MinLength, *kind.MaxLength, *kind.Minimum, *kind.Maximum,
		*kind.ExclusiveMinimum, *kind.ExclusiveMaximum, *kind.MinProperties, *kind.MaxProperties:
		return 3
	case *kind.Pattern:
		return 4
	}
	return 5
}

// collect flattens the library's error tree into leaf problems.
func collect(e *jsonschema.ValidationError, out *[]problem) {
	if k, ok := e.ErrorKind.(*kind.OneOf); ok && k.Subschemas == nil && len(e.Causes) > 0 {
		collectOneOf(e, out)
		return
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(c, out)
		}
		return
	}
	leaf(e, out)
}

// collectOneOf reports, for a oneOf that matched no branch, only the errors
// of the branch selected by the discriminator. If no branch has the right
// discriminator, the discriminator itself is the problem.
func collectOneOf(e *jsonschema.ValidationError, out *[]problem) {
	discPath := append(slices.Clip(e.InstanceLocation), discriminator)
	var survivors [][]problem
	var wants []any
	missing := false
	for _, branch := range e.Causes {
		var ps []problem
		collect(branch, &ps)
		mismatch := false
		for _, p := range ps {
			if !slices.Equal(p.path, discPath) {
				continue
			}
			switch k := p.kind.(type) {
			case *kind.Const:
				mismatch = true
				wants = append(wants, k.Want)
			case *kind.Required:
				mismatch, missing = true, true
			case *kind.Type, *kind.Enum:
				mismatch = true
			}
		}
		if !mismatch {
			survivors = append(survivors, ps)
		}
	}
	switch {
	case len(survivors) > 0:
		for _, ps := range survivors {
			*out = append(*out, ps...)
		}
	case missing:
		*out = append(*out, problem{path: discPath, reason: "required"})
	case len(wants) > 0:
		*out = append(*out, problem{path: discPath, reason: oneOfReason(wants)})
	default:
		*out = append(*out, problem{path: e.InstanceLocation, reason: "does not match any allowed shape"})
	}
}

var printer = message.NewPrinter(language.English)

func leaf(e *jsonschema.ValidationError, out *[]problem) {
	at := e.InstanceLocation
	add := func(reason string) {
		*out = append(*out, problem{path: at, reason: reason, kind: e.ErrorKind})
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		add("expected " + strings.Join(k.Want, " or ") + ", got " + k.Got)
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, problem{path: append(slices.Clip(at), m), reason: "required", kind: k})
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			*out = append(*out, problem{path: append(slices.Clip(at), p), reason: "unknown field", kind: k})
		}
	case *kind.FalseSchema:
		add("not allowed")
	case *kind.MinLength:
		if k.Want == 1 {
			add("must not be empty")
		} else {
			add(fmt.Sprintf("must be at least %d characters, got %d", k.Want, k.Got))
		}
	case *kind.MaxLength:
		add(fmt.Sprintf("must be at most %d characters, got %d", k.Want, k.Got))
	case *kind.Pattern:
		add("must match " + k.Want)
	case *kind.Minimum:
		add("must be >= " + k.Want.RatString())
	case *kind.Maximum:
		add("must be <= " + k.Want.RatString())
	case *kind.ExclusiveMinimum:
		add("must be > " + k.Want.RatString())
	case *kind.ExclusiveMaximum:
		add("must be < " + k.Want.RatString())
	case *kind.Const:
		add("must be " + display(k.Want))
	case *kind.Enum:
		add(oneOfReason(k.Want))
	case *kind.MinProperties:
		if k.Want == 1 {
			add("must not be empty")
		} else {
			add(fmt.Sprintf("must have at least %d fields", k.Want))
		}
	case *kind.MaxProperties:
		add(fmt.Sprintf("must have at most %d fields", k.Want))
	case *kind.OneOf:
		add("matches more than one allowed shape")
	default:
		add(e.ErrorKind.LocalizedString(printer))
	}
}

func oneOfReason(wants []any) string {
	if len(wants) == 1 {
		return "must be " + display(wants[0])
	}
	parts := make([]string, len(wants))
	for i, w := range wants {
		parts[i] = display(w)
	}
	return "must be one of " + strings.Join(parts, ", ")
}

func display(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// fieldName renders an instance path as a dotted field name. Segments come
// from the payload (an unknown field's name is chosen by the client), so
// anything but a plain name is quoted and cut short before it is echoed.
func fieldName(path []string) string {
	var b strings.Builder
	for i, seg := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		if plainName(seg) {
			b.WriteString(seg)
			continue
		}
		if r := []rune(seg); len(r) > 32 {
			seg = string(r[:32]) + "…"
		}
		b.WriteString(strconv.Quote(seg))
	}
	return b.String()
}

func plainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '$') {
			return false
		}
	}
	return true
}
