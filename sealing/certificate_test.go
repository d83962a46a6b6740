package sealing

import (
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
	if got.Serial != c.Serial || !got.Start.Equal(c.Start) || got.AuditLogIndex != 12 || got.Version != 1 {
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
	for _, want := range []string{"Result: PASSED", "0781:5567", "Serial number:", "4C530001 ü", "Audit log index:       12", "Operator ID:"} {
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

func FuzzParseCertificate(f *testing.F) {
	js, _ := sampleCertificate().MarshalCanonical()
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
		_ = c.Text()
	})
}
