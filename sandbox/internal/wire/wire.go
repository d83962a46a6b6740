// Package wire is the protocol from the sandboxed scan worker to its parent.
//
// The stream is a 5-byte header, "ALWK" and the version byte 1, then frames. A frame is one type
// byte, a 4-byte big-endian payload length, and the payload: one JSON object of the type's shape,
// decoded strictly (unknown fields, trailing bytes, duplicate results and out-of-range values are
// errors). The stream ends with exactly one Done frame; end of file before it is an error
// (ErrTruncated), as is anything after it.
//
//	'H' Hello    {"pid","uid","landlock","seccomp","userns","netns"}   first frame, exactly once
//	'O' Open     {"path","size"}               the worker starts reading a top-level file
//	'P' Progress {"bytes","total"}             bytes read so far (non-decreasing) of about total
//	'R' Result   {"file":File,"inner":N}       a top-level file's verdict; N Inner frames follow
//	'I' Inner    File                          one inner file of the last Result
//	'L' Entry    {"path","size","sha256"}      one file of a listing (airlock ls)
//	'E' Error    {"msg","refused"}             the worker's operational error; Done follows
//	'D' Done     {"results","entries"}         the counts of R and L frames sent
//
// The parent treats the worker as hostile: the Reader bounds every frame, the stream, the counts
// and every string, and validates paths, verdicts and hashes. What a Result claims is still only
// a claim: package sandbox re-hashes and re-judges everything a decision rests on.
package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"

	"github.com/airlock-appliance/airlock/scanner"
)

// Version is the protocol version in the header.
const Version = 1

// Magic starts the stream.
const Magic = "ALWK"

// Frame types.
const (
	THello    = 'H'
	TOpen     = 'O'
	TProgress = 'P'
	TResult   = 'R'
	TInner    = 'I'
	TEntry    = 'L'
	TError    = 'E'
	TDone     = 'D'
)

// Bounds of one stream; the Reader's zero Limits mean these.
const (
	DefaultMaxFrame   = 1 << 20
	DefaultMaxStream  = 1 << 30
	DefaultMaxFrames  = 8 << 20
	MaxPath           = 64 << 10 // bytes of one path (an inner path "a!b!c" may be long)
	MaxString         = 16 << 10 // bytes of any other string
	MaxRules          = 1024     // rule matches on one file
	DefaultMaxResults = 1 << 20
)

// Errors of the Reader.
var (
	ErrTruncated = errors.New("stream ended before its Done frame")
	ErrProtocol  = errors.New("protocol violation")
)

// Hello is the worker's account of its own confinement (a claim, for the log).
type Hello struct {
	PID      int  `json:"pid"`
	UID      int  `json:"uid"`
	Landlock int  `json:"landlock"` // ABI version enforced; 0: none
	Seccomp  bool `json:"seccomp"`
	UserNS   bool `json:"userns"`
	NetNS    bool `json:"netns"`
}

// Open says which top-level file the worker starts reading.
type Open struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// Progress counts the bytes spooled so far.
type Progress struct {
	Bytes int64 `json:"bytes"`
	Total int64 `json:"total"`
}

// ResultHead is a top-level file's verdict; Inner frames follow.
type ResultHead struct {
	File  scanner.File `json:"file"`
	Inner int          `json:"inner"`
}

// Entry is one file of a listing.
type Entry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// Error is the worker's operational error. Refused says the medium's content was refused
// (corrupt, unsupported, no filesystem): a verdict, not a failure of the station.
type Error struct {
	Msg     string `json:"msg"`
	Refused bool   `json:"refused"`
}

// Done ends the stream with the counts of what was sent.
type Done struct {
	Results int `json:"results"`
	Entries int `json:"entries"`
}

// Writer writes a stream; it is safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

// NewWriter writes the header and returns the Writer.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(Magic)
	bw.WriteByte(Version)
	return &Writer{w: bw}
}

// Send writes one frame; v is the payload. Open, Error and Done frames are flushed at once so
// that the parent knows what the worker was doing if it dies.
func (w *Writer) Send(t byte, v any) error { return w.SendSeq(Frame{t, v}) }

// Frame is one frame to send: its type and its payload.
type Frame struct {
	Type    byte
	Payload any
}

// SendSeq writes frames back to back, with no other Send between them: a Result frame and its
// Inner frames must stay together although the scanner opens other files meanwhile (their Open
// frames come from other goroutines).
func (w *Writer) SendSeq(frames ...Frame) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	flush := false
	for _, f := range frames {
		if w.err != nil {
			return w.err
		}
		b, err := json.Marshal(f.Payload) // one at a time: a result may hold many inner files
		if err != nil {
			return err
		}
		var h [5]byte
		h[0] = f.Type
		binary.BigEndian.PutUint32(h[1:], uint32(len(b)))
		w.w.Write(h[:])
		w.w.Write(b)
		switch f.Type {
		case TOpen, TError, TDone, THello:
			flush = true
		}
	}
	if flush && w.err == nil {
		w.err = w.w.Flush()
	}
	return w.err
}

// Flush writes what is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = w.w.Flush()
	}
	return w.err
}

// Limits bound what a Reader accepts; zero fields mean the defaults.
type Limits struct {
	MaxFrame   int   // bytes of one payload
	MaxStream  int64 // bytes of the whole stream
	MaxFrames  int   // frames
	MaxResults int   // Result and Entry frames together
}

// Stream is everything a well-formed stream said.
type Stream struct {
	Hello   Hello
	Results []scanner.Result
	Entries []Entry
	Err     *Error // the worker's own error, if it sent one
}

// Handler sees Open and Progress frames as they arrive (both may be nil).
type Handler struct {
	Open     func(Open)
	Result   func(path string)
	Progress func(bytes, total int64)
}

// Reader parses a stream strictly.
type Reader struct {
	r      *bufio.Reader
	lim    Limits
	h      Handler
	read   int64
	frames int
	buf    []byte
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader, lim Limits, h Handler) *Reader {
	if lim.MaxFrame <= 0 {
		lim.MaxFrame = DefaultMaxFrame
	}
	if lim.MaxStream <= 0 {
		lim.MaxStream = DefaultMaxStream
	}
	if lim.MaxFrames <= 0 {
		lim.MaxFrames = DefaultMaxFrames
	}
	if lim.MaxResults <= 0 {
		lim.MaxResults = DefaultMaxResults
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), lim: lim, h: h}
}

func violation(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, a...))
}

// next reads one frame header and payload.
func (rd *Reader) next() (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(rd.r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, ErrTruncated
		}
		return 0, nil, err
	}
	rd.frames++
	if rd.frames > rd.lim.MaxFrames {
		return 0, nil, violation("more than %d frames", rd.lim.MaxFrames)
	}
	n := binary.BigEndian.Uint32(h[1:])
	if int64(n) > int64(rd.lim.MaxFrame) {
		return 0, nil, violation("frame %q of %d bytes (max %d)", h[0], n, rd.lim.MaxFrame)
	}
	rd.read += 5 + int64(n)
	if rd.read > rd.lim.MaxStream {
		return 0, nil, violation("stream longer than %d bytes", rd.lim.MaxStream)
	}
	if cap(rd.buf) < int(n) {
		rd.buf = make([]byte, n)
	}
	b := rd.buf[:n]
	if _, err := io.ReadFull(rd.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, ErrTruncated
		}
		return 0, nil, err
	}
	return h[0], b, nil
}

// decode decodes one JSON object strictly: known fields only, nothing after it.
func decode(t byte, b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return violation("frame %q: %v", t, err)
	}
	if d.More() {
		return violation("frame %q: bytes after the object", t)
	}
	if _, err := d.Token(); err != io.EOF {
		return violation("frame %q: bytes after the object", t)
	}
	return nil
}

// ReadAll parses the whole stream. Any error means the stream, and so the worker's run, is
// void; the Stream is then incomplete and must not be used for a decision.
func (rd *Reader) ReadAll() (*Stream, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(rd.r, hdr[:]); err != nil {
		return nil, ErrTruncated
	}
	if string(hdr[:4]) != Magic {
		return nil, violation("bad magic %q", hdr[:4])
	}
	if hdr[4] != Version {
		return nil, violation("version %d, want %d", hdr[4], Version)
	}
	st := &Stream{}
	seen := map[string]bool{}
	hello := false
	var progress int64
	for {
		t, b, err := rd.next()
		if err != nil {
			return st, err
		}
		if !hello && t != THello {
			return st, violation("first frame %q, want Hello", t)
		}
		if st.Err != nil && t != TDone {
			return st, violation("frame %q after Error", t)
		}
		switch t {
		case THello:
			if hello {
				return st, violation("second Hello")
			}
			hello = true
			if err := decode(t, b, &st.Hello); err != nil {
				return st, err
			}
		case TOpen:
			var o Open
			if err := decode(t, b, &o); err != nil {
				return st, err
			}
			if err := checkTopPath(o.Path); err != nil {
				return st, err
			}
			if o.Size < 0 {
				return st, violation("open %q: negative size", o.Path)
			}
			if rd.h.Open != nil {
				rd.h.Open(o)
			}
		case TProgress:
			var p Progress
			if err := decode(t, b, &p); err != nil {
				return st, err
			}
			if p.Bytes < progress || p.Total < 0 {
				return st, violation("progress went back from %d to %d", progress, p.Bytes)
			}
			progress = p.Bytes
			if rd.h.Progress != nil {
				rd.h.Progress(p.Bytes, p.Total)
			}
		case TResult:
			var h ResultHead
			if err := decode(t, b, &h); err != nil {
				return st, err
			}
			if len(st.Results)+len(st.Entries) >= rd.lim.MaxResults {
				return st, violation("more than %d results", rd.lim.MaxResults)
			}
			if err := checkFile(&h.File, "", 0); err != nil {
				return st, err
			}
			if seen[h.File.Path] {
				return st, violation("second result for %q", h.File.Path)
			}
			seen[h.File.Path] = true
			if h.Inner < 0 || h.Inner > rd.lim.MaxFrames-rd.frames {
				return st, violation("result %q: %d inner files", h.File.Path, h.Inner)
			}
			r := scanner.Result{File: h.File}
			if r.SHA256 != "" {
				hex.Decode(r.Sum[:], []byte(r.SHA256)) // checked by checkFile
			}
			for i := 0; i < h.Inner; i++ {
				t, b, err := rd.next()
				if err != nil {
					return st, err
				}
				if t != TInner {
					return st, violation("result %q: frame %q where inner file %d of %d belongs", h.File.Path, t, i+1, h.Inner)
				}
				var f scanner.File
				if err := decode(t, b, &f); err != nil {
					return st, err
				}
				if err := checkFile(&f, h.File.Path, 1); err != nil {
					return st, err
				}
				r.Inner = append(r.Inner, f)
			}
			st.Results = append(st.Results, r)
			if rd.h.Result != nil {
				rd.h.Result(r.Path)
			}
		case TEntry:
			var e Entry
			if err := decode(t, b, &e); err != nil {
				return st, err
			}
			if len(st.Results)+len(st.Entries) >= rd.lim.MaxResults {
				return st, violation("more than %d entries", rd.lim.MaxResults)
			}
			if err := checkTopPath(e.Path); err != nil {
				return st, err
			}
			if seen[e.Path] {
				return st, violation("second entry for %q", e.Path)
			}
			seen[e.Path] = true
			if e.Size < 0 || !validSum(e.SHA256) {
				return st, violation("entry %q: bad size or sha256", e.Path)
			}
			st.Entries = append(st.Entries, e)
		case TError:
			var e Error
			if err := decode(t, b, &e); err != nil {
				return st, err
			}
			if len(e.Msg) > MaxString || !validText(e.Msg) {
				return st, violation("error message: not bounded UTF-8 text")
			}
			st.Err = &e
		case TDone:
			var d Done
			if err := decode(t, b, &d); err != nil {
				return st, err
			}
			if d.Results != len(st.Results) || d.Entries != len(st.Entries) {
				return st, violation("done says %d results and %d entries, %d and %d were sent", d.Results, d.Entries, len(st.Results), len(st.Entries))
			}
			if _, err := rd.r.ReadByte(); err != io.EOF {
				return st, violation("bytes after Done")
			}
			return st, nil
		case TInner:
			return st, violation("inner file outside a result")
		default:
			return st, violation("unknown frame type %q", t)
		}
	}
}

func validText(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsRune(s, 0)
}

func validSum(s string) bool {
	if s == "" {
		return true
	}
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func checkTopPath(p string) error {
	if len(p) > MaxPath || !fs.ValidPath(p) || p == "." || strings.ContainsRune(p, 0) {
		return violation("invalid path %q", trunc(p))
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// checkFile validates one File: a top-level one (top == "") or an inner one of top.
func checkFile(f *scanner.File, top string, minDepth int) error {
	if top == "" {
		if err := checkTopPath(f.Path); err != nil {
			return err
		}
		if f.Depth != 0 {
			return violation("%q: top-level file at depth %d", trunc(f.Path), f.Depth)
		}
	} else {
		if len(f.Path) > MaxPath || !strings.HasPrefix(f.Path, top+"!") || !validText(f.Path) {
			return violation("inner path %q outside %q", trunc(f.Path), trunc(top))
		}
		if f.Depth < minDepth || f.Depth > 1<<10 {
			return violation("%q: depth %d", trunc(f.Path), f.Depth)
		}
	}
	switch f.Verdict {
	case scanner.Clean, scanner.Match, scanner.Unscannable, scanner.LimitHit:
	default:
		return violation("%q: unknown verdict %q", trunc(f.Path), trunc(string(f.Verdict)))
	}
	switch f.Type {
	case scanner.TypeRegular, scanner.TypeSymlink, scanner.TypeHardlink, scanner.TypeSpecial:
	default:
		return violation("%q: unknown type %q", trunc(f.Path), trunc(f.Type))
	}
	if f.Size < 0 || !validSum(f.SHA256) {
		return violation("%q: bad size or sha256", trunc(f.Path))
	}
	if len(f.Rules) > MaxRules {
		return violation("%q: %d rule matches", trunc(f.Path), len(f.Rules))
	}
	if f.Verdict == scanner.Match && len(f.Rules) == 0 {
		return violation("%q: verdict %s with %d rule matches", trunc(f.Path), f.Verdict, len(f.Rules))
	}
	for _, s := range []string{f.Reason, f.Limit, f.Target, f.Format} {
		if len(s) > MaxString || !validText(s) {
			return violation("%q: a field is not bounded UTF-8 text", trunc(f.Path))
		}
	}
	for _, m := range f.Rules {
		n := len(m.Namespace) + len(m.Rule)
		ok := validText(m.Namespace) && validText(m.Rule) && len(m.Tags)+len(m.Strings) <= MaxRules
		for _, s := range append(m.Tags[:len(m.Tags):len(m.Tags)], m.Strings...) {
			n += len(s)
			ok = ok && validText(s)
		}
		if n > MaxString || !ok {
			return violation("%q: rule match is not bounded UTF-8 text", trunc(f.Path))
		}
	}
	return nil
}
