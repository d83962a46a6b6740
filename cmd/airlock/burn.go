package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/airlock-appliance/airlock/burner"
)

var burnCommand = command{
	name:    "burn",
	usage:   "--drive /dev/srN|stdio:FILE [--speed S] [--sha256 HEX] [--allow-rewritable] IMAGE",
	summary: "burn an image to write-once media and read it back",
}

func init() { burnCommand.run = runBurn }

func runBurn(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, burnCommand)
	drive := fs.String("drive", "", "drive: /dev/srN, or stdio:FILE for a file pseudo-drive")
	speed := fs.String("speed", "", "write speed passed to xorriso (e.g. 4d; empty = drive default)")
	sealed := fs.String("sha256", "", "sealed SHA-256 of the image (default: hash the image file first)")
	allowRW := fs.Bool("allow-rewritable", false, "accept rewritable media (-RW, -RE)")
	media := fs.String("media", "", "comma-separated media types to accept (default: any write-once)")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if *drive == "" || fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "airlock burn: need --drive and exactly one IMAGE")
		fs.Usage()
		return exitError
	}
	img := fs.Arg(0)
	f, err := os.Open(img)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock burn: %v\n", err)
		return exitError
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock burn: %v\n", err)
		return exitError
	}
	var want [32]byte
	if *sealed != "" {
		b, err := hex.DecodeString(*sealed)
		if err != nil || len(b) != 32 {
			fmt.Fprintf(e.stderr, "airlock burn: --sha256 %q: want 64 hex digits\n", *sealed)
			return exitError
		}
		copy(want[:], b)
	} else {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			fmt.Fprintf(e.stderr, "airlock burn: hash %s: %v\n", img, err)
			return exitError
		}
		copy(want[:], h.Sum(nil))
	}
	d, err := burner.Open(*drive)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock burn: %v\n", err)
		return exitError
	}
	p := burner.Policy{Speed: *speed, AllowRewritable: *allowRW}
	if *media != "" {
		p.Media = strings.Split(*media, ",")
	}
	size := st.Size()
	progressed := false
	res, err := burner.BurnAndVerify(ctx, d, f, size, want, p, func(n int64) {
		progressed = true
		fmt.Fprintf(e.stderr, "\rairlock burn: %s: %d / %d MiB", d.Name(), n>>20, size>>20)
	})
	if progressed {
		fmt.Fprintln(e.stderr)
	}
	if errors.Is(err, burner.ErrMismatch) {
		fmt.Fprintf(e.stderr, "airlock burn: %s: FAIL: %v\n", img, err)
		return exitVerdict
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock burn: %s: %v\n", img, err)
		return exitError
	}
	fmt.Fprintf(e.stdout, "PASS %s %s %d bytes sha256 %x\n", d.Name(), img, res.Size, res.SHA256)
	return exitOK
}
