package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/scanner"
)

// VerifyExports judges, in the parent and in pure Go, every result the worker called a Guix
// export, over its spooled bytes (call Recheck first): each gets the parent's own Result.Guix.
// A worker that hides an export only loses it its Guix basis; one that calls something else an
// export gets it judged, and rejected.
func VerifyExports(ctx context.Context, results []scanner.Result, spoolDir string, acl *guix.ACL, present []string) error {
	for i := range results {
		r := &results[i]
		r.Guix = nil
		if r.Type != scanner.TypeRegular || !strings.HasPrefix(r.Format, scanner.FormatExport) {
			continue
		}
		f, err := os.Open(filepath.Join(spoolDir, filepath.FromSlash(r.Path)))
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		rep, err := guix.VerifyExport(ctx, f, acl, present)
		f.Close()
		if err != nil {
			return fmt.Errorf("guix verify %s: %w", r.Path, err)
		}
		r.Guix = rep
	}
	return nil
}
