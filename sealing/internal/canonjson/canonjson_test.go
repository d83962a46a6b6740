package canonjson

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestCanonicalize(t *testing.T) {
	for in, want := range map[string]string{
		` { "b" : 1, "a" : [true, null, "x<y"] } `: `{"a":[true,null,"x<y"],"b":1}`,
		`"é\u00e9"`:            `"éé"`,
		`-0`:                   `0`,
		`{"k":{"z":1,"y":{}}}`: `{"k":{"y":{},"z":1}}`,
	} {
		got, err := Canonicalize([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Canonicalize(%s) = %s, %v; want %s", in, got, err, want)
		}
		if err := Check([]byte(want)); err != nil {
			t.Errorf("Check(%s): %v", want, err)
		}
	}
	for _, bad := range []string{`1.5`, `1e3`, `9007199254740992`, `{"a":1}x`, `{"a":1,"a":2}`, "\"\xff\"", `{"a":1, "b":2}`, `{"b":1,"a":2}`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`} {
		if err := Check([]byte(bad)); err == nil {
			t.Errorf("Check(%q) accepted", bad)
		}
	}
}

func FuzzCanonicalize(f *testing.F) {
	f.Add([]byte(`{"type":"seal","index":3,"files":["a","b"]}`))
	f.Add([]byte(`{"a":"\u2028<>&"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Canonicalize(b)
		if err != nil {
			return
		}
		if err := Check(c); err != nil {
			t.Fatalf("canonical form %q not canonical: %v", c, err)
		}
		if !json.Valid(c) {
			t.Fatalf("canonical form %q not valid JSON", c)
		}
	})
}

func TestWriteStringMatchesEncodingJSON(t *testing.T) {
	var all []rune
	for r := rune(0); r < 0x800; r++ {
		all = append(all, r)
	}
	for _, s := range []string{"", "plain", string(all), "\u2028\u2029<>&", "a\"b\\c\x7f\U0001F600"} {
		checkWriteString(t, s)
	}
}

func checkWriteString(t *testing.T, s string) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	var got bytes.Buffer
	writeString(&got, s)
	if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got.Bytes(), w) {
		t.Fatalf("writeString(%q) = %s, encoding/json %s", s, got.Bytes(), w)
	}
}

func FuzzWriteString(f *testing.F) {
	f.Add("a\u2028\x01\"")
	f.Fuzz(func(t *testing.T, s string) {
		if utf8.ValidString(s) {
			checkWriteString(t, s)
		}
	})
}
