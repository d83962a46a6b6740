package auditlog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxCheckpointSize bounds a signed checkpoint read from disk or a disc.
const MaxCheckpointSize = 16 << 10

// ErrCheckpointMalformed is wrapped by every checkpoint parse error.
var ErrCheckpointMalformed = errors.New("malformed checkpoint")

// Checkpoint is a tree head in the C2SP tlog-checkpoint format: the note text
//
//	<origin>\n<tree size, decimal>\n<root hash, base64>\n[extension lines\n...]
//
// signed as a golang.org/x/mod/sumdb/note signed note. (tlog.FormatTree writes the go.sum
// database's origin instead, hence this type.)
type Checkpoint struct {
	Origin     string
	Size       int64
	Hash       tlog.Hash
	Extensions []string
}

// Text is the checkpoint's note text, the bytes its signatures cover.
func (c Checkpoint) Text() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
	for _, e := range c.Extensions {
		b.WriteString(e + "\n")
	}
	return b.Bytes()
}

// ParseCheckpoint parses a checkpoint's note text (not the signatures).
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	var c Checkpoint
	bad := func(line int, format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("%w: line %d: %s", ErrCheckpointMalformed, line, fmt.Sprintf(format, args...))
	}
	if len(text) > MaxCheckpointSize {
		return bad(1, "larger than %d bytes", MaxCheckpointSize)
	}
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return bad(bytes.Count(text, []byte("\n"))+1, "text does not end in a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return bad(len(lines)+1, "want origin, size and hash lines")
	}
	for i, l := range lines {
		if l == "" {
			return bad(i+1, "empty line")
		}
		for _, r := range l {
			if r < 0x20 || r == 0x7f {
				return bad(i+1, "control character")
			}
		}
	}
	c.Origin = lines[0]
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return bad(2, "tree size %q is not a decimal number", lines[1])
	}
	c.Size = n
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize || base64.StdEncoding.EncodeToString(h) != lines[2] {
		return bad(3, "root hash %q is not 32 bytes of base64", lines[2])
	}
	copy(c.Hash[:], h)
	c.Extensions = lines[3:]
	if len(c.Extensions) == 0 {
		c.Extensions = nil
	}
	return c, nil
}

// SignCheckpoint signs c with the signers (the log key, or several).
func SignCheckpoint(c Checkpoint, signers ...note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(c.Text())}, signers...)
}

// OpenCheckpoint verifies a signed checkpoint with the known verifiers and parses it. Every
// verifier given must have signed it: the log key alone, or the log key and an auditor's.
func OpenCheckpoint(msg []byte, verifiers ...note.Verifier) (Checkpoint, *note.Note, error) {
	if len(msg) > MaxCheckpointSize {
		return Checkpoint{}, nil, fmt.Errorf("%w: larger than %d bytes", ErrCheckpointMalformed, MaxCheckpointSize)
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		return Checkpoint{}, nil, err
	}
	for _, v := range verifiers {
		signed := false
		for _, s := range n.Sigs {
			if s.Name == v.Name() && s.Hash == v.KeyHash() {
				signed = true
			}
		}
		if !signed {
			return Checkpoint{}, nil, fmt.Errorf("checkpoint not signed by %s+%08x", v.Name(), v.KeyHash())
		}
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	return c, n, err
}

// ParseSignedCheckpoint parses a signed checkpoint without checking any signature: for a
// checkpoint authenticated otherwise (on a disc, the seal signature covers it).
func ParseSignedCheckpoint(msg []byte) (Checkpoint, error) {
	if len(msg) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: larger than %d bytes", ErrCheckpointMalformed, MaxCheckpointSize)
	}
	_, err := note.Open(msg, note.VerifierList())
	var u *note.UnverifiedNoteError
	if !errors.As(err, &u) {
		if err == nil {
			err = errors.New("unexpected verified note")
		}
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrCheckpointMalformed, err)
	}
	return ParseCheckpoint([]byte(u.Note.Text))
}

// MaxProofHashes bounds a proof file: a proof in a tree of 2^63 records has at most 2*63 hashes.
const MaxProofHashes = 128

// FormatProof renders an inclusion or consistency proof as one base64 hash per line.
func FormatProof(p []tlog.Hash) []byte {
	var b bytes.Buffer
	for _, h := range p {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	return b.Bytes()
}

// ErrProofMalformed is wrapped by proof parse errors.
var ErrProofMalformed = errors.New("malformed proof")

// ParseProof parses FormatProof's output.
func ParseProof(b []byte) ([]tlog.Hash, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("%w: last line not terminated", ErrProofMalformed)
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	if len(lines) > MaxProofHashes {
		return nil, fmt.Errorf("%w: more than %d hashes", ErrProofMalformed, MaxProofHashes)
	}
	p := make([]tlog.Hash, len(lines))
	for i, l := range lines {
		h, err := base64.StdEncoding.DecodeString(l)
		// Only the canonical spelling: the decoder ignores \r and non-zero padding bits, which
		// would give one proof many encodings.
		if err != nil || len(h) != tlog.HashSize || base64.StdEncoding.EncodeToString(h) != l {
			return nil, fmt.Errorf("%w: line %d: not a base64 SHA-256 hash", ErrProofMalformed, i+1)
		}
		copy(p[i][:], h)
	}
	return p, nil
}
