// Command airlock is the one binary of the airlock appliance: the operator station (airlock run) and
// the subcommands an operator, approver or auditor uses by hand. It only parses flags and wires the
// packages; every decision lives in a package with tests.
//
// Exit status: 0 success or clean/valid, 1 a negative verdict (rejected, infected, invalid),
// 2 usage or operational error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/airlock-appliance/airlock/sandbox"
)

// Exit statuses of every subcommand (DESIGN.md, CLI contract).
const (
	exitOK      = 0
	exitVerdict = 1
	exitError   = 2
)

// env is what a subcommand may touch of the process: its streams and arguments. Tests run
// subcommands in-process with their own env.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand. run returns the exit status; it prints its own verdicts and errors,
// each naming the file or device and the reason.
type command struct {
	name    string
	usage   string // the synopsis after "airlock NAME"
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

// commands lists every subcommand; each is defined in the file named after it.
func commands() []command {
	cmds := []command{
		keygenCommand, allowCommand, guixCommand, scanCommand, lsCommand, wipeCommand, isoCommand,
		sealCommand, burnCommand, driveCommand, verifyCommand, logCommand, devicesCommand, runCommand,
		certCommand, initCommand,
		versionCommand,
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func main() {
	sandbox.MaybeWorker(os.Args) // the hidden scan worker (worker.go); returns in the parent
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// dispatch runs the subcommand named by args[0].
func dispatch(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitError
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(e.stdout)
		return exitOK
	case "-V", "--version", "-version":
		return runVersion(ctx, e, args[1:])
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "airlock: unknown command %q (airlock --help lists them)\n", args[0])
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "airlock: removable-media sanitization and burn appliance for air-gapped Guix sites")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: airlock COMMAND [flags] [args]   (airlock COMMAND --help for details)")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit status: 0 success or valid, 1 negative verdict, 2 usage or operational error.")
}

// newFlags returns a flag set for a subcommand whose --help prints the synopsis and flags to
// stdout.
func newFlags(e *env, c command) *flag.FlagSet {
	fs := flag.NewFlagSet("airlock "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: airlock %s %s\n\n%s\n", c.name, c.usage, c.summary)
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(w)
		if b.Len() > 0 {
			fmt.Fprintf(w, "\nFlags:\n%s", b.String())
		}
	}
	return fs
}

// parse parses args into fs. When it returns ok == false the caller returns code: 0 after --help
// (usage printed to stdout), 2 after a usage error (reported with the usage on stderr).
func parse(e *env, fs *flag.FlagSet, args []string) (ok bool, code int) {
	fs.SetOutput(io.Discard) // flag would print the usage itself, to one fixed writer
	err := parseInterspersed(fs, args)
	switch {
	case err == nil:
		fs.SetOutput(e.stderr)
		return true, 0
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(e.stdout)
		fs.Usage()
		return false, exitOK
	default:
		fs.SetOutput(e.stderr)
		fmt.Fprintf(e.stderr, "%s: %v\n", fs.Name(), err)
		fs.Usage()
		return false, exitError
	}
}

// parseInterspersed parses flags wherever they stand among the positional arguments
// (`airlock verify DISC --pub K`), as minisign, sha256sum and guix users expect; "--" ends the
// flags, and "-" is a positional argument (standard input). fs.Args() is then the positional
// arguments in order. A flag set that defines no flag (a group such as `guix` or `log`, whose
// arguments belong to its subcommand) takes its arguments as they are.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	defined := false
	fs.VisitAll(func(*flag.Flag) { defined = true })
	if !defined {
		return fs.Parse(args)
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...) // after "--", everything is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// flagFileError says what went wrong with the file a flag named, starting with the flag as the
// user typed it: "--pub /nonexist: no such file or directory". An error that already names the
// file (as *fs.PathError does) is not made to name it twice.
func flagFileError(flagName, path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return fmt.Sprintf("--%s %s: %v", flagName, path, pe.Err)
	}
	return fmt.Sprintf("--%s %s: %v", flagName, path, strings.TrimPrefix(err.Error(), path+": "))
}
