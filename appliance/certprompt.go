package appliance

import (
	"fmt"
	"strings"

	"github.com/airlock-appliance/airlock/sealing"
)

// certTries bounds how often the station re-asks a certificate field whose answer it refused.
const certTries = 3

// askCertificate asks the operator for the certificate fields the policy lists in
// certificate.ask, in order, each bounded by sealing.CheckCertValue. A required field answered
// with nothing, or an answer refused certTries times, cancels the job before anything is
// wiped.
func (j *job) askCertificate() (sealing.CertFields, error) {
	var f sealing.CertFields
	cp := &j.s.pol.Certificate
	for _, key := range cp.Ask {
		d, ok := sealing.LookupCertField(key)
		if !ok { // policy.Parse refuses unknown fields; this is a programming error
			return f, fmt.Errorf("certificate.ask: unknown field %q", key)
		}
		optional := cp.IsOptional(key)
		hint := "required"
		if optional {
			hint = "optional, Enter to leave it empty"
		}
		set := false
		for try := 0; try < certTries && !set; try++ {
			a, err := j.ask("certificate-"+key, fmt.Sprintf("certificate: %s? (%s, at most %d characters)", d.Label, hint, sealing.MaxCertField))
			if err != nil {
				return f, err
			}
			a = strings.TrimSpace(a)
			switch err := f.Set(key, a); {
			case err != nil:
				j.info(fmt.Sprintf("certificate %s %q refused: %v", d.Label, a, err))
			case a == "" && !optional:
				j.info(fmt.Sprintf("certificate %s is required", d.Label))
			default:
				set = true
			}
		}
		if !set {
			return f, fmt.Errorf("no valid %s for the certificate: %w", d.Label, ErrCanceled)
		}
	}
	return f, nil
}
