package sealing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/airlock-appliance/airlock/sealing/internal/canonjson"
)

// Results of a sanitization (Certificate.Result) and of its verification (VerifyResult).
const (
	ResultPassed = "PASSED"
	ResultFailed = "FAILED"
)

// CertificateVersion is the Version of certificates this package writes. Version 1 (before
// the SP 800-88 Appendix G fields, CertFields) is still read.
const CertificateVersion = 2

// MaxCertificateSize bounds a certificate read from media.
const MaxCertificateSize = 64 << 10

// Certificate is a sanitization certificate with the fields NIST SP 800-88 Rev. 1 §4.8 asks for.
// The media package fills it in after a wipe; Sign gives its canonical JSON and a minisign
// signature (verifiable with `minisign -Vm cert.json -p seal.pub`), Text a printable form.
//
// Times are UTC. Sizes and counts are bytes. Duration is in milliseconds and Throughput in
// bytes per second, both integers so the canonical JSON holds no floating point.
type Certificate struct {
	Version int    `json:"version"`
	ID      string `json:"id"`     // unique certificate/session ID
	Result  string `json:"result"` // ResultPassed or ResultFailed: the overall verdict

	// The media.
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	Serial       string `json:"serial"`
	MediaType    string `json:"media_type"` // e.g. "USB flash drive"
	SizeBytes    int64  `json:"size_bytes"`
	USBID        string `json:"usb_id"` // "VVVV:PPPP", lower-case hex

	// The sanitization.
	Category      string   `json:"category"` // "Clear" or "Purge" (SP 800-88 terms)
	Method        string   `json:"method"`   // technique: "zero", "random", "dod3", "discard"
	Passes        int      `json:"passes"`
	VerifyMethod  string   `json:"verify_method"` // "full" or "sample"
	VerifyResult  string   `json:"verify_result"` // ResultPassed or ResultFailed
	BytesWritten  int64    `json:"bytes_written"`
	BytesVerified int64    `json:"bytes_verified"`
	Errors        []string `json:"errors"`
	PostAction    string   `json:"post_action,omitempty"` // e.g. "MBR + FAT32, label AIRLOCK"

	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	DurationMS    int64     `json:"duration_ms"`
	Throughput    int64     `json:"throughput_bps"`
	Tool          string    `json:"tool"`
	ToolVersion   string    `json:"tool_version"`
	Station       string    `json:"station"`
	Operator      string    `json:"operator"`
	AuditLogIndex int64     `json:"audit_log_index"` // -1 when not logged

	// The SP 800-88 fields a person states (organization, sanitizer, property number, ...):
	// site-wide ones from the policy's [certificate] table, per-job ones typed by the operator.
	CertFields
}

// Errors of certificate checks.
var (
	ErrCertificateMalformed = errors.New("malformed certificate")
)

// normalize puts times in UTC (and to microseconds, so the JSON is stable) and never leaves
// Errors nil, so the canonical form does not depend on how the caller built the value.
func (c *Certificate) normalize() {
	if c.Version == 0 {
		c.Version = CertificateVersion
	}
	c.Start = c.Start.UTC().Truncate(time.Microsecond)
	c.End = c.End.UTC().Truncate(time.Microsecond)
	if c.Errors == nil {
		c.Errors = []string{}
	}
}

// MarshalCanonical returns the certificate's canonical JSON (see package canonjson's rules),
// followed by a newline so the file reads well.
func (c *Certificate) MarshalCanonical() ([]byte, error) {
	cc := *c
	cc.normalize()
	if err := cc.validate(); err != nil {
		return nil, err
	}
	b, err := canonjson.Marshal(&cc)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (c *Certificate) validate() error {
	switch c.Version {
	case CertificateVersion:
		if err := c.CertFields.check(); err != nil {
			return fmt.Errorf("%w: %v", ErrCertificateMalformed, err)
		}
	case 1:
		if c.CertFields != (CertFields{}) {
			return fmt.Errorf("%w: version 1 has no SP 800-88 person fields", ErrCertificateMalformed)
		}
	default:
		return fmt.Errorf("%w: version %d, want %d", ErrCertificateMalformed, c.Version, CertificateVersion)
	}
	if c.Result != ResultPassed && c.Result != ResultFailed {
		return fmt.Errorf("%w: result %q is neither %s nor %s", ErrCertificateMalformed, c.Result, ResultPassed, ResultFailed)
	}
	if c.VerifyResult != "" && c.VerifyResult != ResultPassed && c.VerifyResult != ResultFailed {
		return fmt.Errorf("%w: verify_result %q", ErrCertificateMalformed, c.VerifyResult)
	}
	if c.SizeBytes < 0 || c.BytesWritten < 0 || c.BytesVerified < 0 || c.Passes < 0 || c.DurationMS < 0 {
		return fmt.Errorf("%w: negative size or count", ErrCertificateMalformed)
	}
	return nil
}

// Sign returns the certificate's canonical JSON and its minisign signature by key. The trusted
// comment names the certificate ID, result and device serial.
func (c *Certificate) Sign(key *SealKey) (js, minisig []byte, err error) {
	js, err = c.MarshalCanonical()
	if err != nil {
		return nil, nil, err
	}
	tc := fmt.Sprintf("airlock sanitization certificate id=%s result=%s serial=%s", escapeField(c.ID), c.Result, escapeField(c.Serial))
	return js, key.SignDetached(js, tc), nil
}

// ParseCertificate parses a certificate's JSON strictly: canonical form, known fields only,
// within MaxCertificateSize.
func ParseCertificate(js []byte) (*Certificate, error) {
	if len(js) > MaxCertificateSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrCertificateMalformed, len(js), MaxCertificateSize)
	}
	body := bytes.TrimSuffix(js, []byte("\n"))
	if err := canonjson.Check(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCertificateMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var c Certificate
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCertificateMalformed, err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// VerifyCertificate checks the signature sig over js against the trusted keys and parses it.
func VerifyCertificate(js, sig []byte, trusted ...*PublicKey) (*Certificate, error) {
	if _, err := VerifyDetached(js, sig, trusted...); err != nil {
		return nil, fmt.Errorf("certificate signature: %w", err)
	}
	return ParseCertificate(js)
}
