package scanner

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Verdict is the outcome for one file.
type Verdict string

// The verdicts, from best to worst. Anything but Clean rejects the top-level file that holds it.
const (
	// Clean: every byte was scanned and no rule matched.
	Clean Verdict = "clean"
	// Match: at least one rule matched (Rules says which).
	Match Verdict = "match"
	// Unscannable: the bytes could not be seen (encrypted, corrupt, unreadable, unsupported).
	Unscannable Verdict = "unscannable"
	// LimitHit: a bomb limit stopped the walk (File.Limit names it). Never a silent skip.
	LimitHit Verdict = "limit"
)

func (v Verdict) rank() int {
	switch v {
	case Clean:
		return 0
	case Match:
		return 2
	case LimitHit:
		return 3
	default:
		return 1 // unscannable; below match so an infection is what a summary shows first
	}
}

// Limit names, as File.Limit reports them and the policy configures them.
const (
	LimitDepth      = "depth"
	LimitRatio      = "expansion-ratio"
	LimitExpanded   = "expanded-bytes"
	LimitEntries    = "entries"
	LimitEntrySize  = "entry-size"
	LimitTimeout    = "timeout"
	LimitDictionary = "decompressor-memory"
	// LimitName: a path component longer than NAME_MAX (255 bytes) or an entry path longer
	// than PATH_MAX (4096 bytes); no extractor can create it, so tools disagree on what it is.
	LimitName = "name-length"
	// LimitPathBytes: the entry paths of one top-level file add up to more than
	// Limits.MaxPathBytes (every path is held in the report).
	LimitPathBytes = "path-bytes"
)

// Entry types besides regular files. Links and special files are recorded, never followed or
// opened.
const (
	TypeRegular  = ""
	TypeSymlink  = "symlink"
	TypeHardlink = "hardlink"
	TypeSpecial  = "special"
)

// File is the verdict on one file: a top-level file or an inner file of an archive, named
// "outer!inner" (nested: "a.tar.gz!b.zip!c").
type File struct {
	Path    string      `json:"path"`
	Size    int64       `json:"size"`
	SHA256  string      `json:"sha256,omitempty"` // hex; absent when the bytes could not be read whole
	Verdict Verdict     `json:"verdict"`
	Rules   []RuleMatch `json:"rules,omitempty"`
	Reason  string      `json:"reason,omitempty"`
	Limit   string      `json:"limit,omitempty"` // with Verdict LimitHit: which limit
	Type    string      `json:"type,omitempty"`  // TypeSymlink, TypeHardlink, TypeSpecial; empty for regular
	Target  string      `json:"target,omitempty"`
	Format  string      `json:"format,omitempty"` // archive format descended into, e.g. "tar.gz", "zip", "nar"
	Depth   int         `json:"depth"`
}

// Result is everything one top-level file yielded in its one read.
type Result struct {
	File              // the top-level file itself
	Sum   [32]byte    `json:"-"` // SHA-256 of the bytes read (valid when File.SHA256 != "")
	Inner []File      `json:"-"` // every inner file, depth first, in archive order
	Guix  *GuixResult `json:"-"` // set for a Guix export stream when Options.Guix is given
}

// Worst is the worst verdict of the file and everything inside it: Clean only if the top-level
// file is clean all the way down.
func (r *Result) Worst() Verdict {
	w := r.Verdict
	for _, f := range r.Inner {
		if f.Verdict.rank() > w.rank() {
			w = f.Verdict
		}
	}
	return w
}

// Problems lists, for every file of r that is not clean, "path: verdict: reason/rules".
func (r *Result) Problems() []string {
	var out []string
	for _, f := range append([]File{r.File}, r.Inner...) {
		if f.Verdict == Clean {
			continue
		}
		out = append(out, f.describe())
	}
	return out
}

func (f File) describe() string {
	s := fmt.Sprintf("%s: %s", f.Path, f.Verdict)
	if len(f.Rules) > 0 {
		s += ":"
		for i, m := range f.Rules {
			if i > 0 {
				s += ","
			}
			s += " " + m.Namespace + ":" + m.Rule
		}
	}
	if f.Limit != "" {
		s += " (limit " + f.Limit + ")"
	}
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

// Summary counts verdicts over every file, top-level and inner.
type Summary struct {
	TopLevel    int   `json:"top_level"`
	Files       int   `json:"files"`
	Bytes       int64 `json:"bytes"` // top-level bytes read
	Clean       int   `json:"clean"`
	Match       int   `json:"match"`
	Unscannable int   `json:"unscannable"`
	Limit       int   `json:"limit"`
	Approved    *int  `json:"approved,omitempty"`
	Rejected    *int  `json:"rejected,omitempty"`
}

// Report is the JSON form of a scan: {"files":[...], "summary":{...}} plus, when an import
// decision was made, "decisions".
type Report struct {
	Files     []File       `json:"files"`
	Summary   Summary      `json:"summary"`
	Guix      []GuixReport `json:"guix,omitempty"`
	Decisions []Decision   `json:"decisions,omitempty"`
}

// GuixReport is the Guix verdict on one top-level export, as the report lists it.
type GuixReport struct {
	Path string `json:"path"`
	GuixResult
}

// NewReport flattens results (top-level file first, then its inner files) and counts them.
// decisions may be nil.
func NewReport(results []Result, decisions []Decision) Report {
	rep := Report{Files: []File{}, Decisions: decisions}
	for i := range results {
		r := &results[i]
		rep.Summary.TopLevel++
		if r.Guix != nil {
			rep.Guix = append(rep.Guix, GuixReport{Path: r.Path, GuixResult: *r.Guix})
		}
		rep.Summary.Bytes += r.Size
		for _, f := range append([]File{r.File}, r.Inner...) {
			rep.Files = append(rep.Files, f)
			rep.Summary.Files++
			switch f.Verdict {
			case Clean:
				rep.Summary.Clean++
			case Match:
				rep.Summary.Match++
			case LimitHit:
				rep.Summary.Limit++
			default:
				rep.Summary.Unscannable++
			}
		}
	}
	if decisions != nil {
		a, rj := 0, 0
		for _, d := range decisions {
			if d.Approved {
				a++
			} else {
				rj++
			}
		}
		rep.Summary.Approved, rep.Summary.Rejected = &a, &rj
	}
	return rep
}

// WriteJSON writes the report as indented JSON.
func (rep Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText writes the short human summary: one line per file that is not clean, one line per
// decision, and the counts.
func (rep Report) WriteText(w io.Writer) error {
	bad := []File{}
	for _, f := range rep.Files {
		if f.Verdict != Clean {
			bad = append(bad, f)
		}
	}
	sort.SliceStable(bad, func(i, j int) bool { return bad[i].Verdict.rank() > bad[j].Verdict.rank() })
	for _, f := range bad {
		if _, err := fmt.Fprintln(w, f.describe()); err != nil {
			return err
		}
	}
	for _, d := range rep.Decisions {
		if d.Approved {
			fmt.Fprintf(w, "APPROVED %s (%s)\n", d.Path, d.Basis)
			continue
		}
		fmt.Fprintf(w, "REJECTED %s\n", d.Path)
		for _, r := range d.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
	}
	s := rep.Summary
	_, err := fmt.Fprintf(w, "%d top-level files, %d files scanned (%d bytes read): %d clean, %d match, %d unscannable, %d limit",
		s.TopLevel, s.Files, s.Bytes, s.Clean, s.Match, s.Unscannable, s.Limit)
	if err == nil && s.Approved != nil {
		_, err = fmt.Fprintf(w, "; %d approved, %d rejected", *s.Approved, *s.Rejected)
	}
	if err == nil {
		_, err = fmt.Fprintln(w)
	}
	return err
}

// Rename gives the top-level file a new path (e.g. with the directory the caller scanned in
// front) and renames its inner files to match.
func (r *Result) Rename(p string) {
	old := r.Path
	r.Path = p
	for i := range r.Inner {
		if strings.HasPrefix(r.Inner[i].Path, old+"!") {
			r.Inner[i].Path = p + r.Inner[i].Path[len(old):]
		}
	}
}
