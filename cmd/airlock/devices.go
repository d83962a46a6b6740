package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/airlock-appliance/airlock/media"
)

var devicesCommand = command{
	name:    "devices",
	usage:   "[--watch] [--json] [--allow-loop] [--sysfs DIR]",
	summary: "list (or watch) block devices with identity and guard verdict",
}

func init() { devicesCommand.run = runDevices }

// deviceJSON is one disk in `airlock devices --json`.
type deviceJSON struct {
	*media.Identity
	USBID   string `json:"usb_id,omitempty"`
	Allowed bool   `json:"allowed"`
	Refusal string `json:"refusal,omitempty"`
	Rule    string `json:"rule,omitempty"`
}

func verdict(g *media.Guard, id *media.Identity) deviceJSON {
	d := deviceJSON{Identity: id, USBID: id.USBID(), Allowed: true}
	if err := g.Check(id); err != nil {
		d.Allowed, d.Refusal = false, err.Error()
		if r, ok := err.(*media.Refusal); ok {
			d.Rule = r.Rule
		}
	}
	return d
}

func runDevices(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, devicesCommand)
	watch := fs.Bool("watch", false, "after listing, print device events until interrupted")
	asJSON := fs.Bool("json", false, "print JSON Lines: one object per device (per event with --watch)")
	allowLoop := fs.Bool("allow-loop", false, "admit loop devices (test mode)")
	sysfs := fs.String("sysfs", "/sys", "sysfs root")
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(e.stderr, "airlock devices: unexpected argument %q\n", fs.Arg(0))
		return exitError
	}
	g := &media.Guard{AllowLoop: *allowLoop}
	if !*watch {
		names, err := media.Disks(*sysfs)
		if err != nil {
			fmt.Fprintf(e.stderr, "airlock devices: %v\n", err)
			return exitError
		}
		var list []deviceJSON
		for _, n := range names {
			if strings.HasPrefix(n, "loop") && !*allowLoop || skipDisk(n) {
				continue
			}
			id, err := media.Identify(*sysfs, n)
			if err != nil {
				fmt.Fprintf(e.stderr, "airlock devices: %v\n", err)
				continue
			}
			if id.Bus == "loop" && id.Size == 0 {
				continue // a detached loop device
			}
			list = append(list, verdict(g, id))
		}
		if *asJSON {
			if err := writeJSONLines(e.stdout, list); err != nil {
				return exitError
			}
			return exitOK
		}
		printDevices(e.stdout, list)
		return exitOK
	}
	events, err := media.Watch(ctx, media.WatchOptions{SysfsRoot: *sysfs, AllowLoop: *allowLoop})
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock devices: watch: %v\n", err)
		return exitError
	}
	enc := json.NewEncoder(e.stdout)
	for ev := range events {
		if *asJSON {
			out := struct {
				media.Event
				Identity *deviceJSON `json:"identity,omitempty"` // shadows Event.Identity
			}{Event: ev}
			if ev.Identity != nil {
				d := verdict(g, ev.Identity)
				out.Identity = &d
			}
			if err := enc.Encode(out); err != nil {
				return exitError
			}
			continue
		}
		line := fmt.Sprintf("%s %s", ev.Kind, ev.Name)
		if ev.Disk != ev.Name {
			line += " (disk " + ev.Disk + ")"
		}
		if ev.Coldplug {
			line += " [present]"
		}
		if ev.Identity != nil {
			d := verdict(g, ev.Identity)
			line += fmt.Sprintf(": %s %s %s %s", ev.Identity.Bus, size(ev.Identity.Size), ev.Identity.Vendor, ev.Identity.Model)
			if d.Allowed {
				line += " [allowed]"
			} else {
				line += " [refused: " + d.Rule + "]"
			}
		}
		fmt.Fprintln(e.stdout, line)
	}
	return exitOK
}

func size(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%dB", n)
}

func printDevices(w io.Writer, list []deviceJSON) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tBUS\tUSB ID\tVENDOR\tMODEL\tSERIAL\tREMOVABLE\tPARTITIONS\tGUARD")
	for _, d := range list {
		g := "allowed"
		if !d.Allowed {
			g = "refused (" + d.Rule + ")"
		}
		rm := "no"
		if d.Removable {
			rm = "yes"
		}
		dash := func(s string) string {
			if s == "" {
				return "-"
			}
			return s
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Node, size(d.Size), d.Bus, dash(d.USBID),
			dash(d.Vendor), dash(d.Model), dash(d.Serial), rm, dash(strings.Join(d.Partitions, ",")), g)
	}
	tw.Flush()
}

// skipDisk hides kernel-internal block devices that are never media.
func skipDisk(name string) bool {
	for _, p := range []string{"ram", "zram", "dm-", "md", "nbd"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
