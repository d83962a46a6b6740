package media

import (
	"context"
	"errors"
	"fmt"

	"github.com/airlock-appliance/airlock/media/internal/fat"
	"github.com/airlock-appliance/airlock/sealing"
)

// Names of the certificate files Sanitize writes into the root of the reformatted stick.
const (
	CertText = "certificate.txt"
	CertJSON = "certificate.json"
	CertSig  = "certificate.json.minisig"
)

// CertInfo is what the certificate states beyond the wipe itself.
type CertInfo struct {
	ID            string // unique certificate ID (the session)
	Station       string
	Operator      string
	ToolVersion   string
	AuditLogIndex int64 // -1 when not logged
	// Fields are the SP 800-88 statements of the people involved (organization, sanitizer,
	// property number, ...).
	Fields sealing.CertFields
}

// NewCertificate fills a sanitization certificate from a wipe report and the device identity.
func NewCertificate(rep *WipeReport, id *Identity, info CertInfo) *sealing.Certificate {
	c := &sealing.Certificate{
		ID:            info.ID,
		Result:        rep.Result,
		Category:      "Clear",
		Method:        rep.Method,
		Passes:        rep.Passes,
		VerifyMethod:  rep.Verify,
		VerifyResult:  rep.VerifyResult,
		BytesWritten:  rep.BytesWritten,
		BytesVerified: rep.BytesVerified,
		Errors:        append([]string(nil), rep.Errors...),
		Start:         rep.Start,
		End:           rep.End,
		DurationMS:    rep.End.Sub(rep.Start).Milliseconds(),
		Throughput:    int64(rep.Throughput()),
		SizeBytes:     rep.Size,
		Tool:          "airlock",
		ToolVersion:   info.ToolVersion,
		Station:       info.Station,
		Operator:      info.Operator,
		AuditLogIndex: info.AuditLogIndex,
		CertFields:    info.Fields,
	}
	if c.VerifyResult == "" {
		c.VerifyResult = Failed
	}
	if rep.Verify == VerifySample {
		c.VerifyMethod = fmt.Sprintf("sample (first and last MiB + %d random 1 MiB blocks, seed %d)", rep.SampleBlocks-2, rep.SampleSeed)
	}
	if id != nil {
		c.Manufacturer, c.Model, c.Serial, c.USBID = id.Vendor, id.Model, id.Serial, id.USBID()
		switch {
		case id.Bus == "loop":
			// A loop device has no serial number; its backing file's path is not one either.
			c.MediaType = "loop device (test stand-in for a USB stick)"
		case id.Bus == "usb":
			c.MediaType = "USB flash drive"
		default:
			c.MediaType = id.Bus + " disk"
		}
	}
	return c
}

// SanitizeOptions configure Sanitize.
type SanitizeOptions struct {
	Wipe     WipeOptions
	Format   bool   // reformat (MBR + FAT32) after a successful wipe
	Label    string // FAT label; "AIRLOCK" when empty
	Key      *sealing.SealKey
	Identity *Identity // for the certificate; may be nil
	Info     CertInfo
}

// SanitizeResult is what Sanitize did.
type SanitizeResult struct {
	Report      *WipeReport
	Format      *FormatReport // nil when not reformatted
	Certificate *sealing.Certificate
	JSON, Sig   []byte // signed certificate (nil without a key)
}

// Sanitize wipes and verifies dev, and when that passed and o.Format is set, reformats it with
// the sanitization certificate (text, JSON and, with a key, its minisign signature) in the new
// filesystem's root. A failed wipe still yields its FAILED certificate (and signature) in the
// result, together with the error; it is never written to the stick.
func Sanitize(ctx context.Context, dev string, o SanitizeOptions) (*SanitizeResult, error) {
	if err := o.Wipe.check(); err != nil {
		return nil, fmt.Errorf("sanitize %s: %w", dev, err)
	}
	if o.Format { // refuse what cannot be reformatted before destroying anything
		if _, err := fat.CleanLabel(o.Label); err != nil {
			return nil, fmt.Errorf("sanitize %s: %w", dev, err)
		}
		if err := CheckFormat(dev); err != nil {
			return nil, fmt.Errorf("sanitize %s: %w (use no reformat)", dev, err)
		}
	}
	rep, werr := Wipe(ctx, dev, o.Wipe)
	if rep == nil {
		return nil, werr
	}
	return FinishSanitize(ctx, dev, rep, werr, o)
}

// FinishSanitize is Sanitize's second half, for a caller that records the wipe between the
// halves (the station puts the wipe record's audit-log index in the certificate, through
// o.Info): it builds the certificate of rep, signs it with o.Key, and when the wipe passed
// (werr nil) and o.Format is set, reformats dev with the certificate in the new filesystem's
// root. A reformat that fails turns the certificate FAILED and signs it again, so the result
// always holds the certificate of what happened, together with the error.
func FinishSanitize(ctx context.Context, dev string, rep *WipeReport, werr error, o SanitizeOptions) (*SanitizeResult, error) {
	res := &SanitizeResult{Report: rep}
	cert := NewCertificate(rep, o.Identity, o.Info)
	res.Certificate = cert
	label := o.Label
	if label == "" {
		label = "AIRLOCK"
	}
	label, err := fat.CleanLabel(label)
	if err != nil {
		return nil, fmt.Errorf("sanitize %s: %w", dev, err)
	}
	vid := NewVolumeID()
	if werr == nil && o.Format {
		cert.PostAction = FormatPostAction(label, vid)
	}
	sign := func() error {
		if o.Key == nil {
			return nil
		}
		var err error
		res.JSON, res.Sig, err = cert.Sign(o.Key)
		return err
	}
	if err := sign(); err != nil {
		return res, fmt.Errorf("sanitize %s: certificate: %w", dev, err)
	}
	if werr != nil || !o.Format {
		return res, werr
	}
	files, err := res.CertificateFiles()
	if err != nil {
		return res, fmt.Errorf("sanitize %s: certificate: %w", dev, err)
	}
	fr, err := Reformat(ctx, dev, FormatOptions{Label: label, VolumeID: vid, Files: files, Time: rep.End})
	if err != nil {
		// The wipe passed but the stick could not be reformatted: the job fails.
		cert.Result = Failed
		cert.PostAction = ""
		cert.Errors = append(cert.Errors, err.Error())
		res.Report.Result = Failed
		if serr := sign(); serr != nil {
			err = errors.Join(err, serr)
		}
		return res, fmt.Errorf("sanitize %s: %w", dev, err)
	}
	res.Format = fr
	return res, nil
}

// CertificateFiles are the files the certificate is written as, in a reformatted stick's root
// or a host-mode certificate folder: the text form, the canonical JSON and, when signed, its
// minisign signature.
func (r *SanitizeResult) CertificateFiles() ([]File, error) {
	files := []File{{Name: CertText, Data: []byte(r.Certificate.Form(r.Sig))}}
	if r.JSON == nil {
		js, err := r.Certificate.MarshalCanonical()
		if err != nil {
			return nil, err
		}
		return append(files, File{Name: CertJSON, Data: js}), nil
	}
	return append(files, File{Name: CertJSON, Data: r.JSON}, File{Name: CertSig, Data: r.Sig}), nil
}
