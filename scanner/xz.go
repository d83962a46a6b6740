package scanner

/*
#cgo pkg-config: liblzma
#include <lzma.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	lzma_stream s;
	uint8_t *in, *out;
	size_t cap;
} airlock_xz;

static airlock_xz *airlock_xz_new(uint64_t memlimit, uint64_t memlimit_threading, uint32_t threads, size_t cap, int *ret) {
	airlock_xz *z = calloc(1, sizeof *z);
	if (z == NULL) { *ret = LZMA_MEM_ERROR; return NULL; }
	lzma_stream init = LZMA_STREAM_INIT;
	z->s = init;
	z->in = malloc(cap);
	z->out = malloc(cap);
	z->cap = cap;
	if (z->in == NULL || z->out == NULL) { *ret = LZMA_MEM_ERROR; return z; }
	lzma_mt mt;
	memset(&mt, 0, sizeof mt);
	mt.flags = LZMA_CONCATENATED;
	mt.threads = threads;
	mt.memlimit_threading = memlimit_threading;
	mt.memlimit_stop = memlimit;
	*ret = lzma_stream_decoder_mt(&z->s, &mt);
	return z;
}

static airlock_xz *airlock_lzma_alone_new(uint64_t memlimit, size_t cap, int *ret) {
	airlock_xz *z = calloc(1, sizeof *z);
	if (z == NULL) { *ret = LZMA_MEM_ERROR; return NULL; }
	lzma_stream init = LZMA_STREAM_INIT;
	z->s = init;
	z->in = malloc(cap);
	z->out = malloc(cap);
	z->cap = cap;
	if (z->in == NULL || z->out == NULL) { *ret = LZMA_MEM_ERROR; return z; }
	*ret = lzma_alone_decoder(&z->s, memlimit);
	return z;
}

static void airlock_xz_feed(airlock_xz *z, const void *p, size_t n) {
	memcpy(z->in, p, n);
	z->s.next_in = z->in;
	z->s.avail_in = n;
}

static int airlock_xz_code(airlock_xz *z, int finish, size_t *produced) {
	z->s.next_out = z->out;
	z->s.avail_out = z->cap;
	int r = lzma_code(&z->s, finish ? LZMA_FINISH : LZMA_RUN);
	*produced = z->cap - z->s.avail_out;
	return r;
}

static size_t airlock_xz_avail_in(airlock_xz *z) { return z->s.avail_in; }

static void airlock_xz_free(airlock_xz *z) {
	if (z == NULL) return;
	lzma_end(&z->s);
	free(z->in);
	free(z->out);
	free(z);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"unsafe"
)

// xzReader decodes .xz with liblzma (the reference decoder, several times faster than a pure Go
// one): concatenated streams, every check type, and a hard memory limit that liblzma enforces
// for every block before it allocates, so a header demanding a 1.5 GiB dictionary fails with a
// limit instead of an allocation.
type xzReader struct {
	z       *C.airlock_xz
	src     io.Reader
	inBuf   []byte
	out     []byte // pending decoded bytes (a view of C memory)
	srcEOF  bool
	done    bool
	err     error
	limit   int64
	cBufCap int
}

const xzBuf = 128 << 10

// xzOverhead is what liblzma needs besides the dictionary (its own accounting).
const xzOverhead = 8 << 20

// An .xz file written in several blocks (xz -T, the default of xz 5.6) decodes on xzThreads
// threads, so one big tarball does not hold a scan to one core's decompression speed. liblzma
// falls back to fewer threads, down to one, when they would need more than xzThreadingMemory
// (2 threads fit for blocks written at presets up to -2: 3-6 MiB blocks); a single-block file
// decodes on the calling thread as before. The hard limit stays maxDict+xzOverhead.
const (
	xzThreads         = 2
	xzThreadingMemory = 24 << 20
)

func newXZReader(src io.Reader, maxDict int64) (*xzReader, error) {
	var ret C.int
	z := C.airlock_xz_new(C.uint64_t(maxDict+xzOverhead), C.uint64_t(xzThreadingMemory), C.uint32_t(xzThreads), xzBuf, &ret)
	if ret != C.LZMA_OK {
		C.airlock_xz_free(z)
		return nil, fmt.Errorf("liblzma init: error %d", int(ret))
	}
	return &xzReader{z: z, src: src, inBuf: make([]byte, xzBuf), limit: maxDict, cBufCap: xzBuf}, nil
}

// newLzmaReader decodes a legacy .lzma (LZMA-alone) stream with liblzma, as xz --format=lzma
// and lzma -d do, under the same dictionary limit.
func newLzmaReader(src io.Reader, maxDict int64) (*xzReader, error) {
	var ret C.int
	z := C.airlock_lzma_alone_new(C.uint64_t(maxDict+xzOverhead), xzBuf, &ret)
	if ret != C.LZMA_OK {
		C.airlock_xz_free(z)
		return nil, fmt.Errorf("liblzma init: error %d", int(ret))
	}
	return &xzReader{z: z, src: src, inBuf: make([]byte, xzBuf), limit: maxDict, cBufCap: xzBuf}, nil
}

func (x *xzReader) Close() {
	if x.z != nil {
		C.airlock_xz_free(x.z)
		x.z = nil
	}
}

func (x *xzReader) Read(p []byte) (int, error) {
	for len(x.out) == 0 {
		if x.err != nil {
			return 0, x.err
		}
		if x.done {
			return 0, io.EOF
		}
		if C.airlock_xz_avail_in(x.z) == 0 && !x.srcEOF {
			n, err := io.ReadFull(x.src, x.inBuf)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				x.srcEOF = true
			} else if err != nil {
				x.err = err
				return 0, err
			}
			if n > 0 {
				C.airlock_xz_feed(x.z, unsafe.Pointer(&x.inBuf[0]), C.size_t(n))
			}
		}
		finish := C.int(0)
		if x.srcEOF {
			finish = 1
		}
		var produced C.size_t
		r := C.airlock_xz_code(x.z, finish, &produced)
		x.out = unsafe.Slice((*byte)(unsafe.Pointer(x.z.out)), int(produced))
		switch r {
		case C.LZMA_OK:
		case C.LZMA_STREAM_END:
			x.done = true
		case C.LZMA_MEMLIMIT_ERROR:
			x.err = &limitError{limit: LimitDictionary, msg: fmt.Sprintf("xz needs more than %d bytes of dictionary", x.limit)}
		case C.LZMA_BUF_ERROR:
			x.err = io.ErrUnexpectedEOF
		case C.LZMA_FORMAT_ERROR:
			x.err = errors.New("xz: not an xz stream")
		case C.LZMA_OPTIONS_ERROR:
			x.err = errors.New("xz: unsupported options")
		case C.LZMA_DATA_ERROR:
			x.err = errors.New("xz: corrupt data")
		case C.LZMA_MEM_ERROR:
			x.err = errors.New("xz: out of memory")
		default:
			x.err = fmt.Errorf("xz: liblzma error %d", int(r))
		}
		if len(x.out) > 0 {
			break
		}
	}
	n := copy(p, x.out)
	x.out = x.out[n:]
	return n, nil
}
