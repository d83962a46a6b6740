package policy

import (
	"errors"
	"strings"
	"testing"
)

const channelPolicy = `
station = "s1"
modes = ["import"]
[keys]
dir = "k"
[import]
yara_rules = ["r.yar"]
[[import.channels]]
name = "guix"
introduction = "9edb3f66fd807b096b48283debdcddccfea34bad"
signer = "BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA"
history = true
[sanitize]
after_import = "never"
[burn]
drive = "stdio:discs/"
[audit]
log_dir = "log"
`

func TestChannelPolicy(t *testing.T) {
	p, err := Parse("p.toml", []byte(channelPolicy), "/etc/airlock")
	if err != nil {
		t.Fatal(err)
	}
	c := p.Import.Channels[0]
	if c.Name != "guix" || c.Keyring != "keyring" || c.History == nil || !*c.History || c.HistoryMax != DefaultHistoryMax {
		t.Fatalf("channel %+v", c)
	}
	fp, err := ParseFingerprint(c.Signer)
	if err != nil || fp[0] != 0xbb || fp[19] != 0xfa {
		t.Fatalf("fingerprint %x %v", fp, err)
	}

	for _, tc := range []struct{ from, to, key string }{
		{`introduction = "9edb3f66fd807b096b48283debdcddccfea34bad"`, `introduction = "9edb3f66"`, "import.channels[0].introduction"},
		{`signer = "BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA"`, `signer = "BBB0"`, "import.channels[0].signer"},
		{`name = "guix"`, `name = "a b"`, "import.channels[0].name"},
		{`history = true`, "history = true\nkeyring = \"a..b\"", "import.channels[0].keyring"},
		{`history = true`, "history_max = -1", "import.channels[0].history_max"},
		{`history = true`, "history = true\n[[import.channels]]\nname = \"guix\"\nintroduction = \"9edb3f66fd807b096b48283debdcddccfea34bad\"\nsigner = \"BBB02DDF2CEAF6A80D1DE643A2A06DF2A33A54FA\"", "import.channels[1].name"},
		{`history = true`, "histroy = true", "import.channels.histroy"},
	} {
		src := strings.Replace(channelPolicy, tc.from, tc.to, 1)
		_, err := Parse("p.toml", []byte(src), "/etc/airlock")
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: got %v, want an error on %s", tc.to, err, tc.key)
		}
	}
	off, err := Parse("p.toml", []byte(strings.Replace(channelPolicy, "history = true", "history = false", 1)), "/")
	if err != nil || *off.Import.Channels[0].History {
		t.Errorf("history = false: %v", err)
	}
	def, err := Parse("p.toml", []byte(strings.Replace(channelPolicy, "history = true", "", 1)), "/")
	if err != nil || !*def.Import.Channels[0].History {
		t.Errorf("history by default: %v", err)
	}
	// Channels alone may approve: no allowlist, ACL or quorum needed.
	none := channelPolicy[:strings.Index(channelPolicy, "[[import.channels]]")] + channelPolicy[strings.Index(channelPolicy, "[sanitize]"):]
	if _, err := Parse("p.toml", []byte(none), "/"); err == nil || !strings.Contains(err.Error(), "channels: with none") {
		t.Errorf("a policy without any basis: %v", err)
	}
}
