package guix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

type expectedFile struct {
	ACLFiles map[string]string `json:"acl_files"`
	Files    map[string]struct {
		Size    int64 `json:"size"`
		Results map[string]struct {
			Items []struct {
				Index     int     `json:"index"`
				StorePath *string `json:"store_path"`
				Outcome   string  `json:"outcome"`
			} `json:"items"`
			Stream       string `json:"stream"`
			Overall      string `json:"overall"`
			FirstFailure *struct {
				Index   *int   `json:"index"`
				Outcome string `json:"outcome"`
			} `json:"first_failure"`
		} `json:"results"`
	} `json:"files"`
}

type manifestFile struct {
	Items []struct {
		Name           string   `json:"name"`
		StorePath      string   `json:"store_path"`
		NARFile        string   `json:"nar_file"`
		NARSHA256Hex   string   `json:"nar_sha256_hex"`
		NARSHA256Nix32 string   `json:"nar_sha256_nix32"`
		NARSize        int64    `json:"nar_size"`
		References     []string `json:"references"`
		Deriver        string   `json:"deriver"`
		Signer         string   `json:"signer"`
		SignedSpanHex  string   `json:"signed_span_sha256_hex"`
		CA             string   `json:"ca"`
	} `json:"items"`
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadACL(t testing.TB, path string) *ACL {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	acl, err := ParseACL(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return acl
}

// TestVectorsExpected drives every export file of the vectors with both ACLs and compares each
// item's outcome, the stream state, the first failure and the overall verdict with
// expected.json.
func TestVectorsExpected(t *testing.T) {
	dir := testenv.GuixVectors(t)
	var exp expectedFile
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	if len(exp.Files) < 10 {
		t.Fatalf("expected.json lists %d files", len(exp.Files))
	}
	for name, f := range exp.Files {
		for aclName, want := range f.Results {
			t.Run(name+"/"+aclName, func(t *testing.T) {
				acl := loadACL(t, filepath.Join(dir, exp.ACLFiles[aclName]))
				fh, err := os.Open(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				defer fh.Close()
				rep, err := VerifyExport(context.Background(), fh, acl, nil)
				if err != nil {
					t.Fatal(err)
				}
				if string(rep.Stream) != want.Stream {
					t.Errorf("stream %s (%v), want %s", rep.Stream, rep.StreamErr, want.Stream)
				}
				if got := map[bool]string{true: "ACCEPT", false: "REJECT"}[rep.Accept]; got != want.Overall {
					t.Errorf("overall %s, want %s", got, want.Overall)
				}
				if len(rep.Items) != len(want.Items) {
					t.Fatalf("%d items, want %d: %+v", len(rep.Items), len(want.Items), rep.Items)
				}
				for i, wi := range want.Items {
					gi := rep.Items[i]
					if gi.Index != wi.Index || string(gi.Outcome) != wi.Outcome {
						t.Errorf("item %d: %s (%s), want item %d %s", gi.Index, gi.Outcome, gi.Reason, wi.Index, wi.Outcome)
					}
					wantPath := ""
					if wi.StorePath != nil {
						wantPath = *wi.StorePath
					}
					if gi.StorePath != wantPath {
						t.Errorf("item %d: store path %q, want %q", i, gi.StorePath, wantPath)
					}
				}
				ff := rep.FirstFailure()
				switch {
				case want.FirstFailure == nil:
					if ff != nil {
						t.Errorf("first failure %+v, want none", ff)
					}
				case want.FirstFailure.Index == nil: // a stream-level failure
					if ff != nil || string(rep.Stream) != want.FirstFailure.Outcome {
						t.Errorf("first failure %+v / stream %s, want stream %s", ff, rep.Stream, want.FirstFailure.Outcome)
					}
				default:
					if ff == nil || ff.Index != *want.FirstFailure.Index || string(ff.Outcome) != want.FirstFailure.Outcome {
						t.Errorf("first failure %+v, want %d %s", ff, *want.FirstFailure.Index, want.FirstFailure.Outcome)
					}
				}
			})
		}
	}
}

// TestVectorsManifest checks what the export reader computes per item (NAR size and hash,
// signed-span hash, references, deriver) against manifest.json, and the NAR files against it.
func TestVectorsManifest(t *testing.T) {
	dir := testenv.GuixVectors(t)
	var man manifestFile
	readJSON(t, filepath.Join(dir, "manifest.json"), &man)
	f, err := os.Open(filepath.Join(dir, "bundle.export"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	er := NewExportReader(f)
	for i, mi := range man.Items {
		it, err := er.Next()
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		info, err := it.Trailer()
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		if info.StorePath != mi.StorePath || info.Deriver != mi.Deriver || info.NARSize != mi.NARSize {
			t.Errorf("item %d: got %s %q %d, want %s %q %d", i, info.StorePath, info.Deriver, info.NARSize, mi.StorePath, mi.Deriver, mi.NARSize)
		}
		if hex.EncodeToString(info.NARHash[:]) != mi.NARSHA256Hex {
			t.Errorf("item %d: NAR hash %x, want %s", i, info.NARHash, mi.NARSHA256Hex)
		}
		if EncodeBase32(info.NARHash[:]) != mi.NARSHA256Nix32 {
			t.Errorf("item %d: nix32 %s, want %s", i, EncodeBase32(info.NARHash[:]), mi.NARSHA256Nix32)
		}
		if hex.EncodeToString(info.SignedHash[:]) != mi.SignedSpanHex {
			t.Errorf("item %d: signed hash %x, want %s", i, info.SignedHash, mi.SignedSpanHex)
		}
		if len(info.References) != len(mi.References) {
			t.Errorf("item %d: refs %v, want %v", i, info.References, mi.References)
		}
		for j := range mi.References {
			if j < len(info.References) && info.References[j] != mi.References[j] {
				t.Errorf("item %d: ref %d %s, want %s", i, j, info.References[j], mi.References[j])
			}
		}
		// The standalone NAR file walks cleanly and hashes to the same value.
		nb, err := os.ReadFile(filepath.Join(dir, mi.NARFile))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(nb); sum != info.NARHash {
			t.Errorf("%s: sha256 %x differs from the export's NAR", mi.NARFile, sum)
		}
		if _, err := walkNAR(NewNARReader(bytes.NewReader(nb))); err != nil {
			t.Errorf("%s: %v", mi.NARFile, err)
		}
	}
	if _, err := er.Next(); err != io.EOF {
		t.Fatalf("after last item: %v, want io.EOF", err)
	}
}

// walkNAR reads every entry and all contents, returning the entries.
func walkNAR(nr *NARReader) ([]NAREntry, error) {
	var out []NAREntry
	for {
		e, err := nr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if e.Type == Regular {
			n, err := io.Copy(io.Discard, nr)
			if err != nil {
				return out, err
			}
			if n != e.Size {
				return out, io.ErrShortBuffer
			}
		}
		out = append(out, *e)
	}
}
