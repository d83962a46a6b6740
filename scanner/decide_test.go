package scanner

import (
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/guix"
)

type mapAllow map[[32]byte]int64

func (m mapAllow) Allowed(sum [32]byte, size int64) bool {
	s, ok := m[sum]
	return ok && s == size
}

func TestDecide(t *testing.T) {
	sumA, sumB := [32]byte{1}, [32]byte{2}
	allow := mapAllow{sumA: 100}
	clean := func(path string, sum [32]byte, size int64) Result {
		return Result{File: File{Path: path, Size: size, SHA256: "x", Verdict: Clean}, Sum: sum}
	}
	infected := func(r Result) Result {
		r.Inner = []File{{Path: r.Path + "!bad", Verdict: Match, Rules: []RuleMatch{{Rule: "eicar", Namespace: "t"}}}}
		return r
	}
	guixOK := &GuixResult{Accept: true, Stream: guix.StreamComplete, Items: []guix.ItemReport{{StorePath: "/gnu/store/a-x", Outcome: guix.OutcomeValid}}}
	guixBad := &GuixResult{Stream: guix.StreamComplete, Items: []guix.ItemReport{{StorePath: "/gnu/store/a-x", Outcome: guix.OutcomeValid}, {StorePath: "/gnu/store/b-y", Outcome: guix.OutcomeUnauthorizedKey, Reason: "signing key is not in the ACL"}}}
	withGuix := func(r Result, g *GuixResult) Result { r.Guix, r.Format = g, FormatExport; return r }
	cases := []struct {
		name     string
		r        Result
		allow    Allowlist
		approved bool
		basis    string
		reasons  []string
	}{
		{"allowlisted clean", clean("a", sumA, 100), allow, true, BasisAllowlist, nil},
		{"allowlisted wrong size", clean("a", sumA, 101), allow, false, "", []string{"not on the allowlist"}},
		{"not allowlisted", clean("b", sumB, 5), allow, false, "", []string{"not on the allowlist"}},
		{"no allowlist", clean("b", sumB, 5), nil, false, "", []string{"no allowlist given"}},
		{"allowlisted infected", infected(clean("a", sumA, 100)), allow, false, BasisAllowlist, []string{"a!bad: match: t:eicar"}},
		{"guix valid", withGuix(clean("e", sumB, 5), guixOK), nil, true, BasisGuixACL, nil},
		{"guix valid and allowlisted", withGuix(clean("a", sumA, 100), guixOK), allow, true, BasisAllowlist, nil},
		{"guix unauthorized", withGuix(clean("e", sumB, 5), guixBad), allow, false, "", []string{"guix: /gnu/store/b-y: unauthorized-key (signing key is not in the ACL)"}},
		{"guix valid infected", infected(withGuix(clean("e", sumB, 5), guixOK)), nil, false, BasisGuixACL, []string{"e!bad: match"}},
		{"export without ACL", func() Result { r := clean("e", sumB, 5); r.Format = FormatExport; return r }(), nil, false, "", []string{"no Guix ACL"}},
		{"guix stream trailing", withGuix(clean("e", sumB, 5), &GuixResult{Stream: guix.StreamTrailingData, StreamReason: "after the end marker", Items: guixOK.Items}), nil, false, "", []string{"guix: stream trailing-data: after the end marker"}},
		{"limit inside", func() Result {
			r := clean("a", sumA, 100)
			r.Inner = []File{{Path: "a!x", Verdict: LimitHit, Limit: LimitDepth, Reason: "too deep"}}
			return r
		}(), allow, false, BasisAllowlist, []string{"a!x: limit (limit depth): too deep"}},
		{"unscannable top", Result{File: File{Path: "u", Verdict: Unscannable, Reason: "read error"}}, allow, false, "", []string{"u: unscannable: read error", "not hashed"}},
		{"symlink top", Result{File: File{Path: "l", Verdict: Clean, Type: TypeSymlink}}, allow, false, "", []string{"not a regular file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide([]Result{c.r}, c.allow)[0]
			if d.Approved != c.approved || d.Basis != c.basis {
				t.Fatalf("%+v", d)
			}
			all := strings.Join(d.Reasons, "\n")
			for _, want := range c.reasons {
				if !strings.Contains(all, want) {
					t.Errorf("reason %q missing from %q", want, all)
				}
			}
			if c.r.Guix != nil && strings.Contains(all, "allowlist") {
				t.Errorf("an export judged under the ACL lists the allowlist: %q", all)
			}
			if c.approved != (len(d.Reasons) == 0) {
				t.Errorf("approved %v with reasons %q", d.Approved, d.Reasons)
			}
		})
	}
}
