package sealing

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleCertificate() *Certificate {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.FixedZone("x", 3600))
	return &Certificate{
		ID: "s-42", Result: ResultPassed,
		Manufacturer: "SanDisk", Model: "Cruzer Blade", Serial: "4C530001 ü", MediaType: "USB flash drive",
		SizeBytes: 16008609792, USBID: "0781:5567",
		Category: "Clear", Method: "zero", Passes: 1, VerifyMethod: "full", VerifyResult: ResultPassed,
		BytesWritten: 16008609792, BytesVerified: 16008609792,
		Start: start, End: start.Add(20 * time.Minute), DurationMS: 1200000, Throughput: 13340508,
		Tool: "airlock", ToolVersion: "dev", Station: "station-1", Operator: "op7", AuditLogIndex: 12,
		PostAction: "MBR + FAT32 <AIRLOCK>",
	}
}

func TestCertificateSignMinisign(t *testing.T) {
	key, _, pub := testKey(t, "approver")
	c := sampleCertificate()
	js, sig, err := c.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"start":"2026-11-25T09:00:00Z"`) || !strings.Contains(string(js), "<AIRLOCK>") {
		t.Errorf("canonical JSON: %s", js)
	}
	dir := t.TempDir()
	jp, sp := filepath.Join(dir, "certificate.json"), filepath.Join(dir, "certificate.json.minisig")
	writeFile(t, jp, js)
	writeFile(t, sp, sig)
	if out, ok := minisignVerify(t, jp, sp, pub); !ok || !strings.Contains(out, "id=s-42 result=PASSED serial=4C530001%20ü") {
		t.Fatalf("minisign -V rejected the certificate: %s", out)
	}
	got, err := VerifyCertificate(js, sig, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != c.Serial || !got.Start.Equal(c.Start) || got.AuditLogIndex != 12 || got.Version != CertificateVersion {
		t.Errorf("round trip: %+v", got)
	}
	// Tampered JSON, wrong key.
	bad := []byte(strings.Replace(string(js), "PASSED", "FAILED", 1))
	if _, err := VerifyCertificate(bad, sig, key.Public()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered certificate: %v", err)
	}
	other, _, _ := testKey(t, "other")
	if _, err := VerifyCertificate(js, sig, other.Public()); !errors.Is(err, ErrWrongKey) {
		t.Errorf("wrong key: %v", err)
	}
	txt := c.Text()
	for _, want := range []string{"Result: PASSED", "0781:5567", "Serial number         4C530001 ü", "Audit log index       12", "Operator ID, station  op7, station-1"} {
		if !strings.Contains(txt, want) {
			t.Errorf("Text lacks %q:\n%s", want, txt)
		}
	}
}

func TestCertificateRejects(t *testing.T) {
	c := sampleCertificate()
	c.Result = "OK"
	if _, err := c.MarshalCanonical(); !errors.Is(err, ErrCertificateMalformed) {
		t.Errorf("result OK accepted: %v", err)
	}
	js, _ := sampleCertificate().MarshalCanonical()
	for name, b := range map[string]string{
		"unknown field": strings.Replace(string(js), `"audit_log_index"`, `"audit_log_indey"`, 1),
		"not canonical": strings.Replace(string(js), `{`, `{ `, 1),
		"float":         strings.Replace(string(js), `"passes":1`, `"passes":1.0`, 1),
	} {
		if _, err := ParseCertificate([]byte(b)); !errors.Is(err, ErrCertificateMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// fuzzSig is a minisign signature's shape, for the form's signature lines.
var fuzzSig = []byte("untrusted comment: x\nRUR64VsiJNnguDwKg6b0nhRHufYLuParCgJoBT+QCHSosbEMFzPFDlLMt/FDVFsw86dxxqMCEEJhQSld2OHl0m2ULHvO0EDSrQI=\ntrusted comment: t\nTyHq==\n")

func FuzzParseCertificate(f *testing.F) {
	js, _ := sampleCertificate().MarshalCanonical()
	f.Add(js)
	full := sampleCertificate()
	full.CertFields = fullFields()
	js, _ = full.MarshalCanonical()
	f.Add(js)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificate(b)
		if err != nil {
			return
		}
		again, err := c.MarshalCanonical()
		if err != nil {
			t.Fatalf("parsed certificate does not marshal: %v", err)
		}
		if _, err := ParseCertificate(again); err != nil {
			t.Fatalf("re-marshalled certificate does not parse: %v", err)
		}
		for _, sig := range [][]byte{nil, fuzzSig} {
			if p := FormLayoutProblem(c.Form(sig)); p != "" {
				t.Fatalf("form leaves the page: %s", p)
			}
		}
	})
}

// fullFields states every SP 800-88 field.
func fullFields() CertFields {
	return CertFields{
		Organization: "Example Agency, IT Security Office", Location: "HQ building 2, room 101",
		SanitizerName: "Alex Doe", SanitizerTitle: "Media custodian", SanitizerContact: "+1 555 0100, alex@example.org",
		PropertyNumber: "EA-USB-00042", Source: "Finance, workstation FN-12", Classification: "CUI",
		PostClassification: "UNCLASSIFIED", Backup: "no", Destination: "internal reuse",
		Notes: "returned to the pool", ValidatorName: "Sam Roe", ValidatorTitle: "ISSO",
		ValidatorOrg: "Example Agency", ValidatorContact: "+1 555 0101",
	}
}

// TestCertificateFormFields renders the printable form of a signed certificate and checks that
// every field SP 800-88 Rev. 1 §4.8 and Appendix G ask for is on it, with its value, together
// with the JSON's hash and signature, and that it fits one page.
func TestCertificateFormFields(t *testing.T) {
	key, _, _ := testKey(t, "seal")
	c := sampleCertificate()
	c.CertFields = fullFields()
	js, sig, err := c.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	form := c.Form(sig)
	h := sha256.Sum256(js)
	sl := strings.Split(strings.TrimSpace(string(sig)), "\n")
	required := map[string]string{ // label: value, as SP 800-88 names them
		"Organization":                "Example Agency, IT Security Office",
		"Location":                    "HQ building 2, room 101",
		"Name":                        "Alex Doe",
		"Title":                       "Media custodian",
		"Contact":                     "+1 555 0100, alex@example.org",
		"Manufacturer, model":         "SanDisk, Cruzer Blade",
		"Serial number":               "4C530001 ü",
		"Property number":             "EA-USB-00042",
		"Media type":                  "USB flash drive, 16008609792 bytes, USB 0781:5567",
		"Source":                      "Finance, workstation FN-12",
		"Classification":              "CUI",
		"Data backed up":              "no",
		"Method type":                 "Clear",
		"Method used":                 "zero, 1 pass(es)",
		"Verification":                "full: PASSED",
		"Tool":                        "airlock dev",
		"Post-sanit. class.":          "UNCLASSIFIED",
		"Destination":                 "internal reuse",
		"Start, end (UTC)":            "2026-11-25T09:00:00Z, 2026-11-25T09:20:00Z",
		"Operator ID, station":        "op7, station-1",
		"SHA-256 of certificate.json": "",
		hex.EncodeToString(h[:]):      "",
		"Validator's signature":       "____",
		"Sanitizer's signature":       "____",
	}
	for label, value := range required {
		found := false
		for _, l := range strings.Split(form, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), label) && strings.Contains(l, value) {
				found = true
			}
		}
		if !found {
			t.Errorf("form lacks %s: %s\n%s", label, value, form)
		}
	}
	if !strings.Contains(strings.ReplaceAll(form, "\n    ", ""), sl[1]) {
		t.Errorf("form lacks the signature %s", sl[1])
	}
	for _, sec := range []string{"PERSON PERFORMING SANITIZATION", "MEDIA\n", "SANITIZATION\n", "MEDIA DESTINATION", "VALIDATION", "AUTHENTICITY"} {
		if !strings.Contains(form, sec) {
			t.Errorf("form lacks section %q", sec)
		}
	}
	if p := FormLayoutProblem(form); p != "" {
		t.Errorf("form leaves the page: %s\n%s", p, form)
	}
	for _, v := range []string{fullFields().ValidatorName, fullFields().ValidatorTitle, fullFields().ValidatorContact} {
		if !strings.Contains(form, v) {
			t.Errorf("validator block lacks %q", v)
		}
	}
	if !CertificateFormMatches([]byte(form), c, sig) || CertificateFormMatches([]byte(strings.Replace(form, "CUI", "TOP", 1)), c, sig) {
		t.Error("CertificateFormMatches")
	}
	got, err := VerifyCertificate(js, sig, key.Public())
	if err != nil || got.CertFields != fullFields() {
		t.Fatalf("round trip of the fields: %v %+v", err, got)
	}
}

// TestCertificateFormWorstCase: every field at its bound, without spaces, and many long errors
// still print on one page.
func TestCertificateFormWorstCase(t *testing.T) {
	c := sampleCertificate()
	for _, f := range CertFieldList() {
		if err := c.CertFields.Set(f.Key, strings.Repeat("W", MaxCertField)); err != nil {
			t.Fatal(err)
		}
	}
	c.Manufacturer, c.Model, c.Serial = strings.Repeat("M", 64), strings.Repeat("m", 64), strings.Repeat("S", 100)
	c.ID = strings.Repeat("i", 80)
	for i := 0; i < 20; i++ {
		c.Errors = append(c.Errors, strings.Repeat("e", 500))
	}
	// Device and tool strings with spaces wrap at every word.
	words := strings.Repeat("word ", 400)
	c.MediaType, c.Method, c.VerifyMethod, c.PostAction, c.Station, c.Operator, c.ToolVersion, c.Serial =
		words, words, words, words, words, words, words, words
	key, _, _ := testKey(t, "seal")
	_, sig, err := c.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	form := c.Form(sig)
	if p := FormLayoutProblem(form); p != "" {
		t.Errorf("worst case leaves the page: %s\n%s", p, form)
	}
	if !strings.Contains(form, "(18 more in the JSON)") {
		t.Errorf("errors not bounded:\n%s", form)
	}
	t.Logf("worst case: %d lines", strings.Count(form, "\n"))
}

func TestCertFieldValues(t *testing.T) {
	var f CertFields
	for _, bad := range []string{strings.Repeat("x", MaxCertField+1), " lead", "trail ", "tab\tin", "nl\nin", "\xff", "bidi\u202e"} {
		if err := f.Set("location", bad); !errors.Is(err, ErrCertField) {
			t.Errorf("Set(%q): %v", bad, err)
		}
	}
	if err := f.Set("nope", "x"); !errors.Is(err, ErrCertField) {
		t.Errorf("unknown field: %v", err)
	}
	if err := f.Set("property_number", "EA-1"); err != nil || f.Get("property_number") != "EA-1" || f.PropertyNumber != "EA-1" {
		t.Errorf("Set/Get: %v %+v", err, f)
	}
	p := CertificatePolicy{CertFields: CertFields{Organization: "Org", Source: "x"},
		Ask: []string{"source", "sanitizer_name", "sanitizer_name", "shoe_size"}, Optional: []string{"notes"}}
	var got []string
	for _, pr := range p.Problems() {
		got = append(got, pr.Key+": "+pr.Problem)
	}
	want := []string{"ask: field \"sanitizer_name\" listed twice", "ask: unknown field \"shoe_size\"", "optional: \"notes\" is not in ask", "source: set here and also in ask"}
	for _, w := range want {
		if !strings.Contains(strings.Join(got, "\n"), w) {
			t.Errorf("Problems lacks %q: %q", w, got)
		}
	}
	ok := CertificatePolicy{CertFields: CertFields{Organization: "Org"}, Ask: []string{"sanitizer_name", "notes"}, Optional: []string{"notes"}}
	if pr := ok.Problems(); pr != nil || !ok.IsOptional("notes") || ok.IsOptional("sanitizer_name") {
		t.Errorf("valid policy: %v", pr)
	}
}

// TestCertificateVersion1 still parses, and may not carry the version 2 fields.
func TestCertificateVersion1(t *testing.T) {
	c := sampleCertificate()
	c.Version = 1
	js, err := c.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseCertificate(js); err != nil || got.Version != 1 {
		t.Fatalf("version 1: %v", err)
	}
	c.Organization = "x"
	if _, err := c.MarshalCanonical(); !errors.Is(err, ErrCertificateMalformed) {
		t.Errorf("version 1 with fields: %v", err)
	}
}
