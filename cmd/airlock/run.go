package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"golang.org/x/term"

	"github.com/airlock-appliance/airlock/appliance"
	"github.com/airlock-appliance/airlock/appliance/console"
	"github.com/airlock-appliance/airlock/appliance/leds"
	"github.com/airlock-appliance/airlock/appliance/policy"
)

var runCommand = command{
	name:  "run",
	usage: "[--config POLICY] [--root SYSROOT --allow-loop [--loop-dir DIR]] [--boot]",
	summary: "run the appliance station (host mode with --root: loop devices, fake LEDs under SYSROOT, " +
		"stdio: burner; the line view on stdout, answers on stdin)",
}

func init() { runCommand.run = runRun }

func runRun(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, runCommand)
	config := fs.String("config", "/etc/airlock/policy.toml", "station policy (TOML)")
	root := fs.String("root", "", "host mode: SYSROOT holding the fake LED tree (SYSROOT/sys/class/leds)")
	allowLoop := fs.Bool("allow-loop", false, "host mode: treat loop devices as sticks")
	loopDir := fs.String("loop-dir", "", "host mode: only loop devices whose backing file is under DIR (default: SYSROOT)")
	boot := fs.Bool("boot", false, "perform the uinit's boot duties (mounts, modules, USB lock-down, log medium)")
	passFile := fs.String("passphrase-file", "", "read the key passphrase from this file instead of asking")
	screen := fs.String("screen", "", "full-screen view on this terminal (default: the policy's console.screen in boot mode)")
	noSandbox := noSandboxFlag(fs)
	if ok, code := parse(e, fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(e.stderr, "airlock run: unexpected arguments %q\n", fs.Args())
		return exitError
	}
	// As the appliance's uinit (started by u-root's init, PID 1) the boot duties are implied.
	if *root == "" && os.Getppid() == 1 {
		*boot = true
	}
	if *root != "" && *boot {
		fmt.Fprintln(e.stderr, "airlock run: --boot and --root exclude each other")
		return exitError
	}
	if *noSandbox && *boot {
		fmt.Fprintln(e.stderr, "airlock run: --no-sandbox is for debugging on a host; the appliance (boot mode) always parses sticks in the sandboxed worker")
		return exitError
	}
	if *root == "" && *allowLoop {
		fmt.Fprintln(e.stderr, "airlock run: --allow-loop needs --root (host mode)")
		return exitError
	}
	pol, err := policy.Load(*config)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock run: %v\nairlock run: refusing to start\n", err)
		return exitError
	}
	out := e.stdout
	in := e.stdin
	var views console.Multi
	wo := appliance.WireOptions{AllowLoop: *allowLoop, LoopDir: *loopDir, NoSandbox: *noSandbox}
	ledDir := "/sys/class/leds"
	var notes []string
	if *root != "" {
		ledDir = filepath.Join(*root, "sys", "class", "leds")
		if wo.LoopDir == "" {
			wo.LoopDir = *root
		}
		wo.CertDir = filepath.Join(*root, "certificates")
		var names []string
		for _, n := range []string{pol.LEDs.Ready, pol.LEDs.Busy, pol.LEDs.Attention, pol.LEDs.Pass, pol.LEDs.Fail} {
			if n != "" {
				names = append(names, n)
			}
		}
		if err := leds.MakeFakeTree(ledDir, names...); err != nil {
			fmt.Fprintf(e.stderr, "airlock run: fake LED tree: %v\n", err)
			return exitError
		}
	} else {
		wo.AuthorizeUSB = pol.USB.Authorize
	}
	if *boot {
		res, err := appliance.BootDuties(ctx, pol)
		if err != nil {
			fmt.Fprintf(e.stderr, "airlock run: %v\n", err)
			return exitError
		}
		notes = append(notes, res.Notes...)
		if res.LogDisk != "" {
			wo.LogDisks = append(wo.LogDisks, res.LogDisk)
		}
		wo.BootMediumUUID = res.MediumUUID
		if res.LogDir != "" {
			pol.Audit.LogDir = res.LogDir
		}
		if pol.Console.Serial != "" {
			if f, err := os.OpenFile(pol.Console.Serial, os.O_RDWR, 0); err == nil {
				out, in = f, f
				defer f.Close()
			} else {
				notes = append(notes, "serial console: "+err.Error())
			}
		}
		if *screen == "" {
			*screen = pol.Console.Screen
		}
	}
	views = append(views, console.NewLineView(out, true))
	var screenIn io.Reader
	if *screen != "" {
		f, err := os.OpenFile(*screen, os.O_RDWR, 0)
		if err != nil {
			notes = append(notes, "full-screen view: "+err.Error())
		} else {
			defer f.Close()
			w, h, err := term.GetSize(int(f.Fd()))
			if err != nil {
				w, h = 80, 25
			}
			scr := console.NewScreen(f, w, h)
			go scr.Turn(ctx.Done()) // pages a file list longer than the screen
			views = append(views, scr)
			screenIn = f
		}
	}
	passphrase := ""
	if *passFile != "" {
		b, err := os.ReadFile(*passFile)
		if err != nil {
			fmt.Fprintf(e.stderr, "airlock run: --passphrase-file: %v\n", err)
			return exitError
		}
		passphrase = string(trimNewline(b))
	} else if pol.Keys.Passphrase {
		// Asked on the line console before the station starts, without echo on a terminal, and
		// again while it opens no key.
		p, err := appliance.AskPassphrase(out, func() (string, error) { return readSecret(in) }, pol)
		if err != nil {
			fmt.Fprintf(e.stderr, "airlock run: passphrase: %v\n", err)
			return exitError
		}
		passphrase = p
	}
	lines := make(chan string)
	go readLines(in, lines, true)
	if screenIn != nil {
		go readLines(screenIn, lines, false)
	}
	wo.Passphrase = passphrase
	wo.Version = stationVersion()
	wired, err := appliance.Wire(pol, wo)
	if err != nil {
		fmt.Fprintf(e.stderr, "airlock run: %v\nairlock run: refusing to start\n", err)
		return exitError
	}
	defer wired.Close()
	board, err := leds.NewBoard(ledDir, map[leds.Signal]string{leds.Ready: pol.LEDs.Ready, leds.Busy: pol.LEDs.Busy,
		leds.Attention: pol.LEDs.Attention, leds.Pass: pol.LEDs.Pass, leds.Fail: pol.LEDs.Fail})
	if err != nil {
		notes = append(notes, err.Error()+" (LEDs off)")
		board = nil
	}
	cfg := appliance.Config{Policy: pol, View: views}
	if board != nil {
		board.Notify = func(s leds.Signal, how leds.How) {
			views.Show(console.Event{Kind: console.KLED, Dev: string(s), Action: string(how)})
		}
		cfg.LEDs = board
	}
	st := appliance.New(cfg, wired.Parts)
	for _, n := range notes {
		views.Show(console.Event{Kind: console.KInfo, Text: n})
	}
	for _, n := range wired.Notes {
		views.Show(console.Event{Kind: console.KInfo, Text: n})
	}
	for _, m := range wired.Missing {
		views.Show(console.Event{Kind: console.KInfo, Text: "not wired: " + m})
	}
	if err := st.Run(ctx, lines); err != nil {
		// An interrupt or SIGTERM (appliance.ErrStopped) is not a normal end: the station was
		// stopped, perhaps mid-job, so the exit status says so.
		fmt.Fprintf(e.stderr, "airlock run: %v\n", err)
		return exitError
	}
	return exitOK
}

// readLines sends each line of r (at most 4 KiB each) until EOF. The primary input (stdin or
// the serial line) closes out at EOF, which stops the station; the VT never does.
func readLines(r io.Reader, out chan<- string, primary bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	for sc.Scan() {
		out <- sc.Text()
	}
	if primary {
		close(out)
	}
}

// readSecret reads one line without echo when r is a terminal.
func readSecret(r io.Reader) (string, error) {
	if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		return string(b), err
	}
	// Not a terminal (a pipe in tests): one line, read byte by byte so nothing after it is lost.
	var b []byte
	one := make([]byte, 1)
	for len(b) < 4096 {
		n, err := r.Read(one)
		if n == 1 {
			if one[0] == '\n' {
				return string(trimNewline(b)), nil
			}
			b = append(b, one[0])
		}
		if err != nil {
			if len(b) > 0 && errors.Is(err, io.EOF) {
				return string(b), nil
			}
			return "", err
		}
	}
	return "", errors.New("passphrase longer than 4096 bytes")
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// stationVersion is the module version and VCS revision, for certificates.
func stationVersion() string {
	v, rev := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " " + s.Value[:12]
			}
		}
	}
	return v + rev
}
