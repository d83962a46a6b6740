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

func TestCheckObject(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":1,"type":"seal"}`, `"seal"`},
		{`{"type":{"x":[1,2]},"z":null}`, `{"x":[1,2]}`},
		{`{"a":{"type":"inner"}}`, ``},
		{`{"\n":1,"a":2,"type":"x"}`, `"x"`},
		{`{}`, ``},
	} {
		got, err := CheckObject([]byte(tc.in), "type")
		if err != nil || string(got) != tc.want {
			t.Errorf("CheckObject(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`1.5`, `[1]`, `"x"`, ``, `{"a":1}x`, `{"a":1,"a":2}`, "{\"a\":\"\xff\"}", `{"a":1, "b":2}`,
		`{"b":1,"a":2}`, `{"a":-0}`, `{"a":01}`, `{"a":9007199254740992}`, `{"a":"\u0041"}`, `{"a":"\/"}`,
		`{"a":"\u000A"}`, `{"a":"\u001F"}`, "{\"a\":\"\u2028\"}", `{"a":tru}`, `{"a":1,}`, `{"a"}`,
		`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`} {
		if _, err := CheckObject([]byte(bad), "type"); err == nil {
			t.Errorf("CheckObject(%q) accepted", bad)
		}
	}
}

// FuzzCheckObject holds the one-pass checker to the definition: it accepts exactly the canonical
// objects that Check accepts, and finds the member the decoded value has.
func FuzzCheckObject(f *testing.F) {
	f.Add([]byte(`{"type":"seal","index":3,"files":["a","b"]}`))
	f.Add([]byte(`{"\b":"\u001f\"\\","a":{"b":[true,false,null,-12]},"type":"x\u2028"}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := CheckObject(b, "type")
		v, derr := Decode(b)
		obj, isObj := v.(map[string]any)
		if (err == nil) != (derr == nil && isObj) {
			t.Fatalf("CheckObject(%q): %v; Decode: %v (object %v)", b, err, derr, isObj)
		}
		if err != nil {
			return
		}
		m, ok := obj["type"]
		if ok != (got != nil) {
			t.Fatalf("CheckObject(%q) found %q, decoded member present %v", b, got, ok)
		}
		if ok {
			var buf bytes.Buffer
			if err := encode(&buf, m, 1); err != nil || !bytes.Equal(buf.Bytes(), got) {
				t.Fatalf("CheckObject(%q) member %q, want %q (%v)", b, got, buf.Bytes(), err)
			}
		}
	})
}
