package fat

import (
	"encoding/binary"
	"testing"
)

func TestTmpSemantic(t *testing.T) {
	base := newVol(t, 16)
	ors := oracles(t)
	readme := base.entry("README  TXT")
	long := base.entry("ALONGN~1TXT")
	lfn1 := long - 32   // seq 1: chars 1-13
	lfn2 := long - 64   // seq 2|0x40: chars 14-26
	slots := []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}
	setc := func(v *vol, e, k int, c uint16) { binary.LittleEndian.PutUint16(v.b[e+slots[k]:], c) }
	cases := map[string]func(v *vol){
		"nt08":        func(v *vol) { v.b[readme+12] = 0x08 },
		"nt10":        func(v *vol) { v.b[readme+12] = 0x10 },
		"nt18":        func(v *vol) { v.b[readme+12] = 0x18 },
		"nt18-lfn":    func(v *vol) { v.b[long+12] = 0x18 },
		"raw-lower":   func(v *vol) { copy(v.b[readme:], "ReadME  TXT") },
		"raw-lowerx":  func(v *vol) { copy(v.b[readme:], "README  txt") },
		"lfn-trail-dot": func(v *vol) { setc(v, lfn2, 2, '.'); setc(v, lfn2, 3, 0) },
		"lfn-trail-sp":  func(v *vol) { setc(v, lfn2, 2, ' '); setc(v, lfn2, 3, 0) },
		"lfn-lead-sp":   func(v *vol) { setc(v, lfn1, 0, ' ') },
		"lfn-lead-dot":  func(v *vol) { setc(v, lfn1, 0, '.') },
		"lfn-nul-nopad": func(v *vol) { setc(v, lfn2, 3, 0) },
		"lfn-nopad-nul": func(v *vol) { setc(v, lfn2, 2, 0xffff) },
		"hidden":      func(v *vol) { v.b[readme+11] = 0x22 },
		"system":      func(v *vol) { v.b[readme+11] = 0x24 },
		"hid-sys":     func(v *vol) { v.b[readme+11] = 0x26 },
		"ro":          func(v *vol) { v.b[readme+11] = 0x21 },
		"noattr":      func(v *vol) { v.b[readme+11] = 0x00 },
		"lfn-only-dots": func(v *vol) {
			for k := 0; k < 13; k++ {
				setc(v, lfn1, k, '.')
			}
			setc(v, lfn2, 0, '.'); setc(v, lfn2, 1, '.')
		},
		"lfn-is-dotdot": func(v *vol) { setc(v, lfn1, 0, '.'); setc(v, lfn1, 1, '.'); setc(v, lfn1, 2, 0); for k := 3; k < 13; k++ { setc(v, lfn1, k, 0xffff) }; v.b[lfn2] = 0xE5 ; v.b[lfn1] = 0x41},
		"short-dot-ext": func(v *vol) { copy(v.b[readme:], "README     ") },
		"short-trailing-dot-name": func(v *vol) { copy(v.b[readme:], "README  .  ") },
		"lfn-lower-short-upper-collide": func(v *vol) { copy(v.b[base.entry("OTHER   TXT"):], "OTHER   TX ") },
	}
	for name, patch := range cases {
		v := base.clone()
		patch(v)
		a, aerr := airlockList(v)
		line := name + ": airlock " + func() string { if aerr != nil { return aerr.Error() }; return "ok" }()
		for _, o := range ors {
			k, err := o.list(t, v.save())
			if aerr == nil {
				line += " | " + o.name + ": missing " + func() string { m := missing(k, a); s := ""; for _, x := range m { s += x + "; " }; return s }()
			} else {
				line += " | " + o.name + ": " + func() string { s := ""; for p := range k { if _, ok := map[string]bool{"OTHER.TXT":true,"README.TXT":true,"SUB":true,"SUB/DEEPER":true,"SUB/IN.TXT":true,"a long name.txt":true}[p]; !ok { s += p + "; " } }; if err != nil { s += err.Error()[:40] }; return s }()
			}
		}
		t.Log(line)
	}
}
