package sealing

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// The printed form's page: at most FormLines lines of at most FormColumns columns, which is one
// A4 or Letter page in a 10-12 point monospaced font with ordinary margins (Letter at 6 lines per
// inch holds 66 lines, 60 inside half-inch margins; 80 columns at 12 characters per inch fit in
// 6.7 inches).
const (
	FormLines   = 60
	FormColumns = 80
)

// formErrors bounds the wipe errors listed on the form (one line each); the JSON has all of
// them.
const formErrors = 2

// formLabel is the width of the form's labels; formValue the width of a value's line. A
// CertFields value (MaxCertField) fits one value line.
const (
	formLabel = 20
	formValue = FormColumns - 2 - formLabel - 2
)

// Text renders the certificate's printable form without a signature block (see Form).
func (c *Certificate) Text() string { return c.Form(nil) }

// Form renders the certificate for a person to read, sign by hand and file: the SP 800-88
// Appendix G layout (person, media, sanitization, destination, validation), then the SHA-256 of
// the certificate's canonical JSON and, when sig is given, its minisign signature, so that a
// paper copy names the exact signed record (`airlock cert verify` checks both). It fits one page
// (FormLines x FormColumns) whatever the fields hold.
func (c *Certificate) Form(sig []byte) string {
	cc := *c
	cc.normalize()
	var b strings.Builder
	const labelW = formLabel
	// lineN prints k and v, v wrapped to at most n lines (the last marked "..." when cut), so
	// that no value, however long, pushes the form off its page; the JSON has every byte.
	lineN := func(n int, k, v string) {
		if v == "" {
			v = "-"
		}
		parts := wrap(v, formValue)
		if len(parts) > n {
			parts = parts[:n]
			parts[n-1] = clip(parts[n-1]+" ...", formValue)
		}
		indent := strings.Repeat(" ", 2+labelW+2)
		for i, part := range parts {
			if i == 0 {
				fmt.Fprintf(&b, "  %-*s  %s\n", labelW, k, part)
			} else {
				fmt.Fprintf(&b, "%s%s\n", indent, part)
			}
		}
	}
	line := func(k, v string) { lineN(1, k, v) }
	f := cc.CertFields
	title := "MEDIA SANITIZATION CERTIFICATE"
	std := "NIST SP 800-88 Rev. 1"
	fmt.Fprintf(&b, "%s%*s\n", title, FormColumns-len(title), std)
	head := "Certificate " + cc.ID
	res := "Result: " + cc.Result
	if len(head)+len(res) < FormColumns {
		fmt.Fprintf(&b, "%s%*s\n", head, FormColumns-len(head), res)
	} else {
		line("Certificate", cc.ID)
		fmt.Fprintf(&b, "%s\n", res)
	}
	b.WriteString("\nPERSON PERFORMING SANITIZATION\n")
	line("Name", f.SanitizerName)
	line("Title", f.SanitizerTitle)
	line("Organization", f.Organization)
	line("Location", f.Location)
	line("Contact", f.SanitizerContact)
	line("Operator ID, station", cc.Operator+", "+cc.Station)
	b.WriteString("\nMEDIA\n")
	line("Manufacturer, model", strings.TrimSpace(cc.Manufacturer+", "+cc.Model))
	serial := cc.Serial
	if serial == "" {
		serial = "(none reported by the device)"
	}
	lineN(2, "Serial number", serial)
	line("Property number", f.PropertyNumber)
	line("Media type", fmt.Sprintf("%s, %d bytes, USB %s", cc.MediaType, cc.SizeBytes, orDash(cc.USBID)))
	line("Source", f.Source)
	line("Classification", f.Classification)
	line("Data backed up", f.Backup)
	b.WriteString("\nSANITIZATION\n")
	line("Method type", cc.Category)
	line("Method used", fmt.Sprintf("%s, %d pass(es), %d bytes written", cc.Method, cc.Passes, cc.BytesWritten))
	line("Verification", fmt.Sprintf("%s: %s, %d bytes verified", cc.VerifyMethod, orDash(cc.VerifyResult), cc.BytesVerified))
	switch {
	case len(cc.Errors) == 0:
		line("Errors", "none")
	default:
		for i, e := range cc.Errors {
			if i == formErrors {
				line("", fmt.Sprintf("(%d more in the JSON)", len(cc.Errors)-formErrors))
				break
			}
			k := ""
			if i == 0 {
				k = fmt.Sprintf("Errors (%d)", len(cc.Errors))
			}
			line(k, e)
		}
	}
	line("Post-sanitization", cc.PostAction)
	line("Start, end (UTC)", cc.Start.Format(time.RFC3339)+", "+cc.End.Format(time.RFC3339))
	line("Duration, rate", fmt.Sprintf("%s, %.1f MB/s", time.Duration(cc.DurationMS)*time.Millisecond, float64(cc.Throughput)/1e6))
	line("Tool", strings.TrimSpace(cc.Tool+" "+cc.ToolVersion))
	idx := "(not logged)"
	if cc.AuditLogIndex >= 0 {
		idx = fmt.Sprint(cc.AuditLogIndex)
	}
	line("Audit log index", idx)
	line("Notes", f.Notes)
	b.WriteString("\nMEDIA DESTINATION\n")
	line("Post-sanit. class.", f.PostClassification)
	line("Destination", f.Destination)
	b.WriteString("\n  Sanitizer's signature: ____________________________  Date: ____________\n")
	b.WriteString("\nVALIDATION\n")
	line("Name", f.ValidatorName)
	line("Title", f.ValidatorTitle)
	line("Organization", f.ValidatorOrg)
	line("Contact", f.ValidatorContact)
	b.WriteString("\n  Validator's signature: ____________________________  Date: ____________\n")
	b.WriteString("\nAUTHENTICITY\n")
	// The hash names the exact JSON; the signature line is the minisign signature of that JSON
	// (its .minisig file also holds the trusted comment and its global signature).
	if js, err := cc.MarshalCanonical(); err == nil {
		h := sha256.Sum256(js)
		fmt.Fprintf(&b, "  SHA-256 of certificate.json:\n    %s\n", hex.EncodeToString(h[:]))
	}
	if sl := strings.Split(strings.TrimSpace(string(sig)), "\n"); sig != nil && len(sl) == 4 {
		b.WriteString("  minisign signature (certificate.json.minisig), one line:\n")
		for _, part := range wrap(sl[1], FormColumns-4) {
			fmt.Fprintf(&b, "    %s\n", part)
		}
	} else {
		b.WriteString("  minisign signature: (unsigned)\n")
	}
	b.WriteString("  Check: airlock cert verify --pub seal.pub certificate.json\n")
	b.WriteString("     or: minisign -Vm certificate.json -p seal.pub && sha256sum certificate.json\n")
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip shortens s to n bytes at a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !validStart(s[n]) {
		n--
	}
	return s[:n-3] + "..."
}

func validStart(c byte) bool { return c&0xc0 != 0x80 }

// wrap breaks s into lines of at most w bytes, at spaces where it can and inside a word where
// it must (a base64 signature has no spaces), never inside a UTF-8 sequence.
func wrap(s string, w int) []string {
	var out []string
	for len(s) > w {
		cut := strings.LastIndexByte(s[:w+1], ' ')
		if cut <= 0 {
			cut = w
			for cut > 0 && !validStart(s[cut]) {
				cut--
			}
			out = append(out, s[:cut])
			s = s[cut:]
			continue
		}
		out = append(out, s[:cut])
		s = s[cut+1:]
	}
	return append(out, s)
}

// FormLayoutProblem reports where text leaves the page (FormLines x FormColumns), or "".
func FormLayoutProblem(text string) string {
	ls := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(ls) > FormLines {
		return fmt.Sprintf("%d lines, more than %d", len(ls), FormLines)
	}
	for i, l := range ls {
		if n := len([]rune(l)); n > FormColumns {
			return fmt.Sprintf("line %d has %d columns, more than %d", i+1, n, FormColumns)
		}
	}
	return ""
}

// CertificateFormMatches reports whether text is exactly the form js and sig render: a printed
// or stored certificate.txt says what the signed JSON says, nothing else.
func CertificateFormMatches(text []byte, c *Certificate, sig []byte) bool {
	return bytes.Equal(text, []byte(c.Form(sig)))
}
