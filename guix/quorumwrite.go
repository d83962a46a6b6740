package guix

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/airlock-appliance/airlock/internal/ctxio"
)

// ErrNoCarrier is wrapped by WriteApproved's error when the chosen export does not carry the
// NAR bytes of every approved item.
var ErrNoCarrier = errors.New("export does not carry every approved item's NAR")

// approved reports whether the item may cross.
func (it *QuorumItem) approved() bool {
	return it.Verdict == QuorumApproved || it.Verdict == QuorumFixedOutput
}

// carrierIndex returns the index, in the export named file, of an item whose NAR bytes hash
// to it's claim, or -1.
func (it *QuorumItem) carrierIndex(file string) int {
	for _, v := range it.Votes {
		if v.Bytes && v.File == file && it.Claim != nil && v.Claim.equal(*it.Claim) {
			return v.Index
		}
	}
	return -1
}

// Carrier returns the first export (in input order) that carries the NAR bytes of every
// approved item, or "" if there is none (the bytes are spread over several exports, or
// nothing is approved). That export, re-signed by WriteApproved, is what crosses.
func (r *QuorumReport) Carrier() string {
	for _, f := range r.Files {
		if f.Kind != "export" || f.Problem != "" {
			continue
		}
		n, all := 0, true
		for i := range r.Items {
			if it := &r.Items[i]; it.approved() {
				n++
				all = all && it.carrierIndex(f.Name) >= 0
			}
		}
		if n > 0 && all {
			return f.Name
		}
	}
	return ""
}

// WriteApproved writes to w an export of exactly the approved items of rep, copied from src
// (the export rep knows as file, normally rep.Carrier()) in its order (dependencies first, as
// guix archive --export -r writes them), each re-signed with key: the high side then needs the
// appliance's key alone in its ACL. Each copied item must still be what was judged (store path,
// NAR SHA-256 and size, references), else the error wraps ErrChanged; what was written to w
// must then be discarded. src is read once.
func WriteApproved(ctx context.Context, w io.Writer, rep *QuorumReport, file string, src io.Reader, key *PrivateKey) error {
	want := map[int]*QuorumItem{}
	for i := range rep.Items {
		it := &rep.Items[i]
		if !it.approved() {
			continue
		}
		idx := it.carrierIndex(file)
		if idx < 0 {
			return fmt.Errorf("write approved items: %s: %w: %s", file, ErrNoCarrier, it.StorePath)
		}
		want[idx] = it
	}
	if len(want) == 0 {
		return errors.New("write approved items: nothing is approved")
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	er := NewExportReader(ctxio.NewReader(ctx, src))
	var cur *QuorumItem
	er.onTrailer = func(info *ItemInfo) error {
		if cur == nil {
			return nil
		}
		if info.StorePath != cur.StorePath || !cur.Claim.equal(Claim{NARHash: info.NARHash, NARSize: info.NARSize, References: info.References}) {
			return fmt.Errorf("%w: %s item %s is not what was judged", ErrChanged, file, info.StorePath)
		}
		sig, err := key.Sign(info.SignedHash)
		if err != nil {
			return err
		}
		var hdr [16]byte
		binary.LittleEndian.PutUint64(hdr[0:], 1)
		binary.LittleEndian.PutUint64(hdr[8:], uint64(len(sig)))
		bw.Write(hdr[:])
		bw.Write(sig)
		bw.Write(make([]byte, (8-len(sig)%8)%8))
		return nil
	}
	written := 0
	for {
		it, err := er.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("write approved items: %s: %w", file, err)
		}
		cur = want[it.Index()]
		if cur != nil {
			var one [8]byte
			binary.LittleEndian.PutUint64(one[:], 1)
			bw.Write(one[:]) // the marker was read before the item began
			er.w.tee = bw
			written++
		}
		_, err = it.Trailer()
		er.w.tee = nil
		if err != nil {
			return fmt.Errorf("write approved items: %s: %w", file, err)
		}
		if er.w.teeErr != nil {
			return fmt.Errorf("write approved items: %w", er.w.teeErr)
		}
	}
	if written != len(want) {
		return fmt.Errorf("write approved items: %s: %w (%d of %d found)", file, ErrChanged, written, len(want))
	}
	bw.Write(make([]byte, 8))
	return bw.Flush()
}
