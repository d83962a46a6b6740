package main

import (
	"bytes"
	"encoding/json"
	"io"
)

// Every --json of every subcommand follows one convention: JSON Lines (https://jsonlines.org).
// Each line is one complete, compact JSON object ending in "\n": one line per item for commands
// that list things (ls: one per file; devices: one per device, and one per event with --watch;
// guix verify: one report per EXPORT; log show: one per record), and exactly one line for
// commands with one result (verify, scan, wipe, guix quorum). There are no arrays at the top
// level, so `jq -c`, `while read` and a streaming reader all take the output as it comes, and an
// empty listing is no output at all.

// writeJSONLine writes v as one compact JSON line.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeJSONLines writes each item as its own line.
func writeJSONLines[T any](w io.Writer, items []T) error {
	for _, it := range items {
		if err := writeJSONLine(w, it); err != nil {
			return err
		}
	}
	return nil
}

// compactJSONLine writes the JSON that write produces (possibly indented, one value) as one
// compact line.
func compactJSONLine(w io.Writer, write func(io.Writer) error) error {
	var raw, out bytes.Buffer
	if err := write(&raw); err != nil {
		return err
	}
	if err := json.Compact(&out, bytes.TrimSpace(raw.Bytes())); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}
