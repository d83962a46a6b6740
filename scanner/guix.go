package scanner

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/airlock-appliance/airlock/guix"
)

// GuixPolicy is the ACL the scanner judges top-level Guix exports under (as /etc/guix/acl).
type GuixPolicy = *guix.ACL

// GuixResult is the verdict on one top-level Guix export stream: the report of guix.Judge,
// made in the same read as the scan of its files, the one VerifyExport and `airlock guix
// verify` make: every item judged in stream order against a store holding Options.GuixPresent.
// Its Stream is guix.StreamUnread when the scan stopped inside the stream (a limit, a read
// error), since the rest was never judged.
type GuixResult = guix.ExportReport

// walkGuix descends into a NAR or an export stream. Inner files of an export item are named
// "EXPORT!STOREPATH/PATH"; while an item's NAR is being read its store path (which follows the
// NAR) is not known yet, so they are named "EXPORT!#N/PATH" and renamed once the trailer is read
// (they keep "#N" if the stream breaks first).
func (w *worker) walkGuix(st *walkState, f *File, kind string, r io.Reader, depth int) error {
	if kind == FormatNAR {
		return w.walkNAR(st, f, guix.NewNARReader(r), "", depth)
	}
	var j *guix.Judge
	if depth == 0 && w.s.opt.Guix != nil {
		j = guix.NewJudge(w.s.opt.Guix, w.s.opt.GuixPresent)
	}
	// end records the verdict and returns what makes the export unscannable: bytes the
	// scanner could not attribute to an item were not seen as files.
	end := func(err error) error {
		if j != nil {
			st.guix, _ = j.Finish(err)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	er := guix.NewExportReader(r)
	for n := 0; ; n++ {
		it, err := er.Next()
		if err != nil {
			return end(err)
		}
		placeholder := "#" + strconv.Itoa(n)
		first := len(st.inner)
		if err := w.walkNAR(st, f, it.NAR(), placeholder, depth); err != nil {
			return end(err)
		}
		if j != nil {
			err = j.Add(it)
		}
		info, terr := it.Trailer()
		if err == nil {
			err = terr
		}
		if err != nil {
			return end(err)
		}
		old := f.Path + "!" + placeholder
		for i := first; i < len(st.inner); i++ {
			if p := st.inner[i].Path; strings.HasPrefix(p, old) {
				st.inner[i].Path = f.Path + "!" + info.StorePath + p[len(old):]
			}
		}
	}
}

// walkNAR scans every regular file of a NAR and records its symlinks. prefix goes before each
// entry's path ("/a/b"); a NAR whose root is a regular file has the entry path "".
func (w *worker) walkNAR(st *walkState, f *File, nr *guix.NARReader, prefix string, depth int) error {
	for {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		e, err := nr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := prefix + e.Path
		if name == "" {
			name = "/"
		}
		switch e.Type {
		case guix.Regular:
			if err := w.entry(st, f, name, nr, e.Size, depth+1); err != nil {
				return err
			}
		case guix.Symlink:
			if err := w.record(st, f, name, TypeSymlink, e.Target, "symbolic link: recorded, not followed", depth+1); err != nil {
				return err
			}
		case guix.Directory:
		default:
			return fmt.Errorf("NAR entry %s: unknown type %v", name, e.Type)
		}
	}
}
