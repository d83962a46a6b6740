package scanner

/*
#cgo !yara_no_pkg_config,!yara_static  pkg-config: yara
#cgo !yara_no_pkg_config,yara_static   pkg-config: --static yara
#cgo yara_no_pkg_config                LDFLAGS:    -lyara -lm
#include <yara.h>
static const char *airlock_yara_version(void) { return YR_VERSION; }
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hillu/go-yara/v4"
)

// YaraVersion returns the version of the libyara that airlock is built against (and, in the
// static build, linked with), e.g. "4.2.3".
func YaraVersion() string { return C.GoString(C.airlock_yara_version()) }

// errScanTimeout is libyara's answer when Options.Timeout ran out.
var errScanTimeout error = yara.Error(C.ERROR_SCAN_TIMEOUT)

// ErrCompile is wrapped by every rule compilation failure; the message names file:line.
var ErrCompile = errors.New("yara rules do not compile")

// Rules is a compiled YARA rule set. It is safe for concurrent use: every scan worker makes its
// own libyara scanner from it. Destroy frees it.
type Rules struct {
	r     *yara.Rules
	count int
}

// CompileFiles compiles YARA source files into one rule set. Each file gets its own namespace,
// named after the file without its extension, so two files may define rules of the same name.
// A syntax error is reported as ErrCompile with every "file:line: message".
func CompileFiles(paths ...string) (*Rules, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: no rule files given", ErrCompile)
	}
	c, err := yara.NewCompiler()
	if err != nil {
		return nil, fmt.Errorf("yara compiler: %w", err)
	}
	defer c.Destroy()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("rules %s: %w", p, err)
		}
		ns := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		err = c.AddFile(f, ns)
		f.Close()
		if err != nil {
			return nil, compileError(c, err)
		}
	}
	return finish(c)
}

// CompileString compiles rules from source text; name stands for the file name in errors and is
// the namespace.
func CompileString(name, src string) (*Rules, error) {
	c, err := yara.NewCompiler()
	if err != nil {
		return nil, fmt.Errorf("yara compiler: %w", err)
	}
	defer c.Destroy()
	if err := c.AddString(src, name); err != nil {
		for i := range c.Errors {
			if c.Errors[i].Filename == "" {
				c.Errors[i].Filename = name
			}
		}
		return nil, compileError(c, err)
	}
	return finish(c)
}

func compileError(c *yara.Compiler, err error) error {
	var msgs []string
	for _, m := range c.Errors {
		msgs = append(msgs, fmt.Sprintf("%s:%d: %s", m.Filename, m.Line, m.Text))
	}
	if len(msgs) == 0 {
		msgs = append(msgs, err.Error())
	}
	return fmt.Errorf("%w: %s", ErrCompile, strings.Join(msgs, "; "))
}

func finish(c *yara.Compiler) (*Rules, error) {
	r, err := c.GetRules()
	if err != nil {
		return nil, compileError(c, err)
	}
	return &Rules{r: r, count: len(r.GetRules())}, nil
}

// LoadCompiled reads rules precompiled by `yarac` or Save. Precompiled rules are trusted code
// for libyara: load them only from the boot medium, never from user media.
func LoadCompiled(path string) (*Rules, error) {
	r, err := yara.LoadRules(path)
	if err != nil {
		return nil, fmt.Errorf("load compiled rules %s: %w", path, err)
	}
	return &Rules{r: r, count: len(r.GetRules())}, nil
}

// ReadCompiled is LoadCompiled from a reader.
func ReadCompiled(rd io.Reader) (*Rules, error) {
	r, err := yara.ReadRules(rd)
	if err != nil {
		return nil, fmt.Errorf("read compiled rules: %w", err)
	}
	return &Rules{r: r, count: len(r.GetRules())}, nil
}

// Save writes the compiled rules so LoadCompiled (or `yara -C`) can use them.
func (r *Rules) Save(path string) error {
	if err := r.r.Save(path); err != nil {
		return fmt.Errorf("save compiled rules %s: %w", path, err)
	}
	return nil
}

// Count is the number of rules in the set.
func (r *Rules) Count() int { return r.count }

// Destroy frees the rule set; no scan may use it afterwards.
func (r *Rules) Destroy() { r.r.Destroy() }

// RuleMatch is one rule that matched a file.
type RuleMatch struct {
	Rule      string   `json:"rule"`
	Namespace string   `json:"namespace"`
	Tags      []string `json:"tags,omitempty"`
	Strings   []string `json:"strings,omitempty"` // identifiers of the strings that matched, e.g. "$eicar"
}

// engine is one worker's libyara scanner. libyara scanners are not safe for concurrent use.
type engine struct {
	s       *yara.Scanner
	matches []RuleMatch
}

func newEngine(r *Rules, timeout time.Duration) (*engine, error) {
	s, err := yara.NewScanner(r.r)
	if err != nil {
		return nil, fmt.Errorf("yara scanner: %w", err)
	}
	e := &engine{s: s}
	s.SetCallback(e).SetTimeout(timeout)
	return e, nil
}

func (e *engine) destroy() { e.s.Destroy() }

// RuleMatching implements yara.ScanCallback: it keeps names and string identifiers only, never
// the matched data, so a file with millions of hits costs little memory.
func (e *engine) RuleMatching(sc *yara.ScanContext, r *yara.Rule) (bool, error) {
	m := RuleMatch{Rule: r.Identifier(), Namespace: r.Namespace(), Tags: r.Tags()}
	for _, s := range r.Strings() {
		if len(s.Matches(sc)) > 0 {
			m.Strings = append(m.Strings, s.Identifier())
		}
	}
	sort.Strings(m.Strings)
	e.matches = append(e.matches, m)
	return false, nil
}

// scanMem scans buf whole.
func (e *engine) scanMem(buf []byte) ([]RuleMatch, error) {
	e.matches = nil
	err := e.s.ScanMem(buf)
	return e.matches, err
}

// scanBlocks scans size bytes of ra through libyara's memory-block iterator.
func (e *engine) scanBlocks(ra io.ReaderAt, size int64, block, overlap int64) ([]RuleMatch, error) {
	e.matches = nil
	it := &blockIter{ra: ra, size: size, block: block, overlap: overlap}
	err := e.s.ScanMemBlocks(it)
	if err == nil && it.err != nil {
		err = it.err
	}
	return e.matches, err
}

// blockIter serves a ReaderAt to libyara as overlapping blocks: block i covers
// [i*(block-overlap), +block). Overlap makes every string no longer than overlap lie wholly in
// one block, so splitting cannot hide it (libyara matches strings within a block only). libyara
// re-iterates the blocks (First again) to evaluate conditions such as uint32(off), which a
// ReaderAt allows.
type blockIter struct {
	ra                   io.ReaderAt
	size, block, overlap int64
	next                 int64
	err                  error
	// The block last read whole into lastBuf (see Next).
	lastBuf         *byte
	lastBase, lastN int64
}

func (b *blockIter) First() *yara.MemoryBlock { b.next = 0; return b.Next() }

func (b *blockIter) Next() *yara.MemoryBlock {
	if b.next >= b.size || (b.next > 0 && b.next+b.overlap >= b.size) {
		return nil
	}
	base := b.next
	n := min(b.block, b.size-base)
	b.next = base + b.block - b.overlap
	return &yara.MemoryBlock{Base: uint64(base), Size: uint64(n), FetchData: func(buf []byte) {
		if n == 0 {
			return
		}
		// libyara fetches the first block again for every condition and module that looks at
		// the data (13 times for the bundled rules); go-yara hands every fetch the same C
		// buffer, which only this function writes, so the same block into the same buffer is
		// already there.
		if p := &buf[0]; p == b.lastBuf && base == b.lastBase && n == b.lastN {
			return
		}
		b.lastBuf = nil
		if _, err := b.ra.ReadAt(buf[:n], base); err != nil {
			if b.err == nil {
				b.err = fmt.Errorf("read at %d: %w", base, err)
			}
			return
		}
		b.lastBuf, b.lastBase, b.lastN = &buf[0], base, n
	}}
}

// Filesize lets rules use `filesize` on block scans.
func (b *blockIter) Filesize() uint64 { return uint64(b.size) }
