package channel

import "testing"

func FuzzReadAuthorizations(f *testing.F) {
	f.Add([]byte(authz("AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3")))
	f.Add([]byte("(authorizations (version 0) ((\"ab\" #| x |# (name \"y\")) #;(\"zz\")) extra)"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := ReadAuthorizations(b)
		if err == nil && keys == nil && len(b) == 0 {
			t.Fatal("empty input accepted")
		}
	})
}
