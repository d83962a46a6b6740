package sealing

import (
	"net/url"
	"strings"
)

// escapeField percent-escapes a trusted-comment field value so it holds no space, "=" or
// control character; unescapeField reverses it.
func escapeField(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '%' || c == '=' || c == 0x7f {
			b.WriteString("%")
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unescapeField(s string) (string, error) {
	return url.PathUnescape(s)
}
