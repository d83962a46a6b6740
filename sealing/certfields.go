package sealing

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CertFields are the statements of NIST SP 800-88 Rev. 1 §4.8 and Appendix G that a person,
// not the wipe, makes: who sanitized, for which organization, where, what the media was
// (property number, source, classification), whether its data was backed up, where it goes
// next, and who validates. A site fixes some of them in its policy (CertificatePolicy); the
// station asks the operator for the others at each job. Every field is optional in the JSON
// (empty means not stated) and bounded by MaxCertField bytes of printable text.
type CertFields struct {
	Organization       string `json:"organization,omitempty" toml:"organization"`
	Location           string `json:"location,omitempty" toml:"location"`
	SanitizerName      string `json:"sanitizer_name,omitempty" toml:"sanitizer_name"`
	SanitizerTitle     string `json:"sanitizer_title,omitempty" toml:"sanitizer_title"`
	SanitizerContact   string `json:"sanitizer_contact,omitempty" toml:"sanitizer_contact"`
	PropertyNumber     string `json:"property_number,omitempty" toml:"property_number"`
	Source             string `json:"source,omitempty" toml:"source"`
	Classification     string `json:"classification,omitempty" toml:"classification"`
	PostClassification string `json:"post_classification,omitempty" toml:"post_classification"`
	Backup             string `json:"backup,omitempty" toml:"backup"`
	Destination        string `json:"destination,omitempty" toml:"destination"`
	Notes              string `json:"notes,omitempty" toml:"notes"`
	ValidatorName      string `json:"validator_name,omitempty" toml:"validator_name"`
	ValidatorTitle     string `json:"validator_title,omitempty" toml:"validator_title"`
	ValidatorOrg       string `json:"validator_organization,omitempty" toml:"validator_organization"`
	ValidatorContact   string `json:"validator_contact,omitempty" toml:"validator_contact"`
}

// MaxCertField bounds one field's value in bytes: long enough for a name, a title or an
// address line, short enough that it prints on one line of the form (formValue).
const MaxCertField = 56

// CertField describes one of CertFields' fields: its key (the JSON and policy name), the label
// the printed form and the operator's prompt use, and whether an operator may be asked for it.
type CertField struct {
	Key   string
	Label string
	get   func(*CertFields) *string
}

// certFieldTable lists the fields in printed order.
var certFieldTable = []CertField{
	{"organization", "Organization", func(f *CertFields) *string { return &f.Organization }},
	{"location", "Location", func(f *CertFields) *string { return &f.Location }},
	{"sanitizer_name", "Sanitizer's name", func(f *CertFields) *string { return &f.SanitizerName }},
	{"sanitizer_title", "Sanitizer's title", func(f *CertFields) *string { return &f.SanitizerTitle }},
	{"sanitizer_contact", "Sanitizer's contact", func(f *CertFields) *string { return &f.SanitizerContact }},
	{"property_number", "Media property number", func(f *CertFields) *string { return &f.PropertyNumber }},
	{"source", "Media source", func(f *CertFields) *string { return &f.Source }},
	{"classification", "Classification", func(f *CertFields) *string { return &f.Classification }},
	{"post_classification", "Post-sanitization class.", func(f *CertFields) *string { return &f.PostClassification }},
	{"backup", "Data backed up", func(f *CertFields) *string { return &f.Backup }},
	{"destination", "Destination", func(f *CertFields) *string { return &f.Destination }},
	{"notes", "Notes", func(f *CertFields) *string { return &f.Notes }},
	{"validator_name", "Validator's name", func(f *CertFields) *string { return &f.ValidatorName }},
	{"validator_title", "Validator's title", func(f *CertFields) *string { return &f.ValidatorTitle }},
	{"validator_organization", "Validator's organization", func(f *CertFields) *string { return &f.ValidatorOrg }},
	{"validator_contact", "Validator's contact", func(f *CertFields) *string { return &f.ValidatorContact }},
}

// CertFieldList returns every field in printed order.
func CertFieldList() []CertField { return slices.Clone(certFieldTable) }

// LookupCertField returns the field named key.
func LookupCertField(key string) (CertField, bool) {
	for _, f := range certFieldTable {
		if f.Key == key {
			return f, true
		}
	}
	return CertField{}, false
}

// ErrCertField is wrapped by every refused field value.
var ErrCertField = errors.New("bad certificate field")

// Get returns the value of field key ("" for an unknown key).
func (f *CertFields) Get(key string) string {
	if d, ok := LookupCertField(key); ok {
		return *d.get(f)
	}
	return ""
}

// Set checks value (see CheckCertValue) and stores it in field key.
func (f *CertFields) Set(key, value string) error {
	d, ok := LookupCertField(key)
	if !ok {
		return fmt.Errorf("%w: unknown field %q", ErrCertField, key)
	}
	if err := CheckCertValue(value); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	*d.get(f) = value
	return nil
}

// CheckCertValue accepts at most MaxCertField bytes of valid UTF-8 without control characters
// and without leading or trailing space: text that prints on one line as it was typed.
func CheckCertValue(v string) error {
	switch {
	case len(v) > MaxCertField:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrCertField, len(v), MaxCertField)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: not UTF-8", ErrCertField)
	case strings.TrimSpace(v) != v:
		return fmt.Errorf("%w: leading or trailing space", ErrCertField)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) && r != ' ' {
			return fmt.Errorf("%w: control or invisible character %U", ErrCertField, r)
		}
	}
	return nil
}

func (f *CertFields) check() error {
	for _, d := range certFieldTable {
		if err := CheckCertValue(*d.get(f)); err != nil {
			return fmt.Errorf("%s: %w", d.Key, err)
		}
	}
	return nil
}

// Merge returns f with every field that job states (non-empty) taken from job.
func (f CertFields) Merge(job CertFields) CertFields {
	for _, d := range certFieldTable {
		if v := *d.get(&job); v != "" {
			*d.get(&f) = v
		}
	}
	return f
}

// CertificatePolicy is a site's [certificate] table: the fields every certificate states, and
// the fields the station asks the operator for at each sanitize job (Ask, in that order). An
// asked field is required unless it is also in Optional; a fixed value of an asked field is
// not allowed (the site decides who states it).
type CertificatePolicy struct {
	CertFields
	Ask      []string `toml:"ask"`
	Optional []string `toml:"optional"`
}

// CertPolicyProblem is one problem of a CertificatePolicy: the key under [certificate] and
// what is wrong.
type CertPolicyProblem struct {
	Key, Problem string
}

// Problems checks the table; nil means it is valid.
func (p *CertificatePolicy) Problems() []CertPolicyProblem {
	var out []CertPolicyProblem
	for _, d := range certFieldTable {
		if err := CheckCertValue(*d.get(&p.CertFields)); err != nil {
			out = append(out, CertPolicyProblem{d.Key, err.Error()})
		}
	}
	seen := map[string]bool{}
	for _, k := range p.Ask {
		d, ok := LookupCertField(k)
		switch {
		case !ok:
			out = append(out, CertPolicyProblem{"ask", fmt.Sprintf("unknown field %q (%s)", k, strings.Join(certKeys(), ", "))})
		case seen[k]:
			out = append(out, CertPolicyProblem{"ask", fmt.Sprintf("field %q listed twice", k)})
		case *d.get(&p.CertFields) != "":
			out = append(out, CertPolicyProblem{k, "set here and also in ask: state it in the policy or ask the operator, not both"})
		}
		seen[k] = true
	}
	for _, k := range p.Optional {
		if !seen[k] {
			out = append(out, CertPolicyProblem{"optional", fmt.Sprintf("%q is not in ask", k)})
		}
	}
	return out
}

// IsOptional reports whether the operator may leave asked field key empty.
func (p *CertificatePolicy) IsOptional(key string) bool { return slices.Contains(p.Optional, key) }

func certKeys() []string {
	var ks []string
	for _, d := range certFieldTable {
		ks = append(ks, d.Key)
	}
	return ks
}
