// Package ctxio makes a blocking read stop when its context is done.
//
// A reader of a stick or an export may run for minutes; wrapping it in NewReader lets an
// operator's abort, a pulled stick or a deadline end the read at the next Read call:
//
//	r := ctxio.NewReader(ctx, f)
//	_, err := io.Copy(dst, r) // returns ctx.Err() once ctx is done
package ctxio

import (
	"context"
	"io"
)

// NewReader returns a reader that reads from r until ctx is done, and then returns ctx's
// error from every Read.
func NewReader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
