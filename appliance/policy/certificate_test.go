package policy

import (
	"strings"
	"testing"
)

func TestCertificateTable(t *testing.T) {
	base := "station = \"a\"\nmodes = [\"sanitize\"]\n[keys]\ndir = \"k\"\n[audit]\nlog_dir = \"/tmp/x\"\n"
	p, err := Parse("p.toml", []byte(base+"[certificate]\norganization = \"Org\"\nask = [\"sanitizer_name\", \"notes\"]\noptional = [\"notes\"]\n"), "/")
	if err != nil {
		t.Fatal(err)
	}
	if p.Certificate.Organization != "Org" || len(p.Certificate.Ask) != 2 || !p.Certificate.IsOptional("notes") {
		t.Errorf("%+v", p.Certificate)
	}
	_, err = Parse("p.toml", []byte(base+"[certificate]\nshoe = 1\nask = [\"x\"]\n"), "/")
	if err == nil || !strings.Contains(err.Error(), "certificate.shoe: unknown key") || !strings.Contains(err.Error(), "certificate.ask: unknown field \"x\"") {
		t.Errorf("%v", err)
	}
}
