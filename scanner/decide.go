package scanner

import "fmt"

// Allowlist answers whether a file with this SHA-256 and size was approved offline. The
// sealing package's verified allowlist satisfies it; the scanner needs nothing else of it.
type Allowlist interface {
	Allowed(sum [32]byte, size int64) bool
}

// Decision is the import verdict on one top-level file.
type Decision struct {
	Path     string   `json:"path"`
	Approved bool     `json:"approved"`
	Basis    string   `json:"basis,omitempty"`   // why it may pass: "allowlist" or "guix-acl"
	Reasons  []string `json:"reasons,omitempty"` // every reason it is rejected
}

// Bases of an approval.
const (
	BasisAllowlist = "allowlist"
	BasisGuixACL   = "guix-acl"
)

// Decide makes the import decision, a pure function of the scan results, the allowlist (nil:
// none given) and the Guix verdicts carried in each Result (made in the same read when
// Options.Guix was set). A top-level file is approved only if it is clean all the way down AND
// (its SHA-256 and size are on the allowlist OR it is a Guix export every item of which is valid
// under the ACL). Everything else is rejected, fail closed, with every reason listed.
func Decide(results []Result, allow Allowlist) []Decision {
	out := make([]Decision, 0, len(results))
	for i := range results {
		out = append(out, decide(&results[i], allow))
	}
	return out
}

func decide(r *Result, allow Allowlist) Decision {
	d := Decision{Path: r.Path}
	if r.Type != TypeRegular {
		d.Reasons = append(d.Reasons, fmt.Sprintf("%s: not a regular file (%s)", r.Path, r.Type))
		return d
	}
	d.Reasons = append(d.Reasons, r.Problems()...)
	hashed := r.SHA256 != ""
	switch {
	case hashed && allow != nil && allow.Allowed(r.Sum, r.Size):
		d.Basis = BasisAllowlist
	case r.Guix != nil && r.Guix.Accept:
		d.Basis = BasisGuixACL
	default:
		switch {
		case !hashed:
			d.Reasons = append(d.Reasons, r.Path+": not read whole, so not hashed")
		case r.Guix != nil:
			// An export judged under the Guix ACL: its basis is the ACL, so the reasons are the
			// judge's (the allowlist was still consulted, and would have approved it).
		case allow == nil:
			d.Reasons = append(d.Reasons, r.Path+": no allowlist given")
		default:
			d.Reasons = append(d.Reasons, fmt.Sprintf("%s: SHA-256 %s size %d is not on the allowlist", r.Path, r.SHA256, r.Size))
		}
		switch {
		case r.Guix != nil:
			for _, why := range r.Guix.Reasons() {
				d.Reasons = append(d.Reasons, r.Path+": guix: "+why)
			}
		case r.Format == FormatExport:
			d.Reasons = append(d.Reasons, r.Path+": a Guix export, but no Guix ACL was given to judge it")
		}
	}
	d.Approved = d.Basis != "" && len(d.Reasons) == 0
	return d
}
