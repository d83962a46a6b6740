// Command testsum sits behind `go test -json`: it prints the test output as go test would have
// printed it without -json, then one closing line that counts the tests:
//
//	LABEL: N passed, M failed, K skipped
//
// With -total FILE it also adds the counts to FILE (three numbers), and with -print-total it only
// prints the sum kept in FILE, so `make test` can close with one line for all of its suites.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is the part of a test2json event that testsum reads.
type event struct {
	Action string
	Test   string
	Output string
}

// counts are the tests that passed, failed and were skipped.
type counts struct{ passed, failed, skipped int }

func (c counts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", c.passed, c.failed, c.skipped)
}

func main() {
	label := flag.String("label", "tests", "word before the closing line")
	total := flag.String("total", "", "file to add the counts to")
	printTotal := flag.Bool("print-total", false, "print the sum kept in -total and exit")
	flag.Parse()
	if *printTotal {
		c, err := readTotal(*total)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(2)
		}
		fmt.Printf("%s: %s\n", *label, c)
		return
	}
	c, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	fmt.Printf("%s: %s\n", *label, c)
	if *total != "" {
		old, err := readTotal(*total)
		if err != nil && !os.IsNotExist(err) {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(2)
		}
		sum := counts{old.passed + c.passed, old.failed + c.failed, old.skipped + c.skipped}
		if err := os.WriteFile(*total, fmt.Appendf(nil, "%d %d %d\n", sum.passed, sum.failed, sum.skipped), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(2)
		}
	}
}

// summarize copies the output of the events on r to w and counts the tests (not the packages).
// A line that is not JSON (a build failure printed by go test itself) is copied as it is.
func summarize(r io.Reader, w io.Writer) (counts, error) {
	var c counts
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		switch ev.Action {
		case "output":
			io.WriteString(w, ev.Output)
		case "pass", "fail", "skip":
			if ev.Test == "" {
				continue
			}
			switch ev.Action {
			case "pass":
				c.passed++
			case "fail":
				c.failed++
			default:
				c.skipped++
			}
		}
	}
	return c, sc.Err()
}

func readTotal(path string) (counts, error) {
	var c counts
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d %d %d", &c.passed, &c.failed, &c.skipped); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
