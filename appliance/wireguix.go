package appliance

import (
	"fmt"
	"path/filepath"

	"github.com/airlock-appliance/airlock/appliance/policy"
	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/guix/channel"
	"github.com/airlock-appliance/airlock/internal/readlimit"
	"github.com/airlock-appliance/airlock/sealing"
)

// wireGuixBases sets up the importer's channel and quorum bases and the appliance's Guix key
// (import.channels, import.quorum, import.resign_guix).
func wireGuixBases(pol *policy.Policy, imp *ScanImporter) error {
	for i, c := range pol.Import.Channels {
		intro, err := channel.ParseOID(c.Introduction)
		if err != nil {
			return fmt.Errorf("import.channels[%d].introduction: %w", i, err)
		}
		signer, err := policy.ParseFingerprint(c.Signer)
		if err != nil {
			return fmt.Errorf("import.channels[%d].signer: %w", i, err)
		}
		cp := channel.Policy{Introduction: intro, Signer: signer, Keyring: c.Keyring, Strict: c.Strict,
			AllowPrerequisites: c.AllowPrerequisites}
		for _, h := range c.HistoricalAuthorizations {
			fp, err := policy.ParseFingerprint(h)
			if err != nil {
				return fmt.Errorf("import.channels[%d].historical_authorizations: %w", i, err)
			}
			cp.HistoricalAuthorizations = append(cp.HistoricalAuthorizations, fp)
		}
		imp.Channels = append(imp.Channels, Channel{Name: c.Name, Policy: cp, History: c.History == nil || *c.History, HistoryMax: c.HistoryMax})
	}
	if pol.Import.Quorum.Enabled() {
		q, err := pol.Import.Quorum.Load()
		if err != nil {
			return err
		}
		imp.Quorum = q
	}
	if pol.Import.ResignGuix {
		p := filepath.Join(pol.Keys.Dir, sealing.GuixSecFile)
		b, err := readlimit.File(p, 64<<10)
		if err != nil {
			return fmt.Errorf("import.resign_guix: %w", err)
		}
		k, err := guix.ParsePrivateKey(b)
		if err != nil {
			return fmt.Errorf("import.resign_guix: %s: %w", p, err)
		}
		imp.ResignGuix, imp.GuixKey = true, k
	}
	return nil
}
