package app

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smallthinker/history"
	"smallthinker/inference"
	"smallthinker/ui"
)

func TestLiveStatus(t *testing.T) {
	tests := []struct {
		name    string
		s       inference.Stats
		running bool
		want    []string
		notWant []string
		warn    bool
	}{
		{"prefill", inference.Stats{ContextUsed: 10, ContextSize: 4096}, true,
			[]string{"Reading the prompt", "context 10 / 4096"}, []string{"tok/s"}, false},
		{"decoding", inference.Stats{GeneratedTokens: 20, DecodeTokS: 21.43, TimeToFirst: 310 * time.Millisecond,
			CacheHitRate: 0.875, SSDMBs: 120, ContextUsed: 300, ContextSize: 4096}, true,
			[]string{"21.4 tok/s", "first token 0.31 s", "expert cache 88% hits", "SSD 120 MB/s", "context 300 / 4096"},
			[]string{"Reading", "almost full"}, false},
		{"no SSD reads", inference.Stats{GeneratedTokens: 5, DecodeTokS: 30, CacheHitRate: 1, ContextUsed: 50, ContextSize: 100}, false,
			[]string{"expert cache 100% hits"}, []string{"SSD"}, false},
		{"no expert cache at all", inference.Stats{GeneratedTokens: 5, DecodeTokS: 30, ContextUsed: 50, ContextSize: 100}, false,
			[]string{"all experts in RAM"}, []string{"hits", "SSD"}, false},
		{"context nearly full", inference.Stats{GeneratedTokens: 5, ContextUsed: 3500, ContextSize: 4096}, true,
			[]string{"context 3500 / 4096", "almost full"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warn := liveStatus(tt.s, tt.running)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("%q has %q", got, w)
				}
			}
			if warn != tt.warn {
				t.Errorf("warn = %v, want %v", warn, tt.warn)
			}
		})
	}
}

func TestReplyStatus(t *testing.T) {
	tests := []struct {
		m    history.Message
		want string
	}{
		{history.Message{Role: "assistant", StopReason: "end", Model: "M",
			Stats: history.Stats{GeneratedTokens: 12, TokPerSec: 9.96, TimeToFirstToken: 1500 * time.Millisecond, CacheHitRate: 0.5}},
			"12 tokens · 10.0 tok/s · first token 1.50 s · expert cache 50% hits · M"},
		{history.Message{Role: "assistant", StopReason: "max_tokens", Stats: history.Stats{GeneratedTokens: 3}}, "3 tokens · token limit reached"},
		{history.Message{Role: "assistant", Incomplete: true}, "Interrupted: the app closed while this reply was being written"},
	}
	for _, tt := range tests {
		if got := replyStatus(tt.m); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

func TestConfigRoundTripAndDamage(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "settings.json")
	c, err := LoadConfig(p)
	if err != nil || c.Settings != DefaultSettings() {
		t.Fatalf("missing file: %v %+v", err, c.Settings)
	}
	c.Settings.Temperature = 0.2
	c.Settings.SendKey = ui.SendCtrlEnter
	c.Budgets["/m.gguf"] = 3 << 30
	if err := c.Save(p); err != nil {
		t.Fatal(err)
	}
	back, err := LoadConfig(p)
	if err != nil || back.Settings != c.Settings || back.Budgets["/m.gguf"] != 3<<30 {
		t.Fatalf("round trip: %v %+v", err, back)
	}

	// Out-of-range values from a hand-edited file fall back to defaults.
	os.WriteFile(p, []byte(`{"settings":{"Temperature":9,"TopP":0,"ContextLength":5,"Theme":"neon","SendKey":"x"}}`), 0o644)
	c, err = LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultSettings()
	if c.Settings.Temperature != d.Temperature || c.Settings.TopP != d.TopP || c.Settings.ContextLength != d.ContextLength ||
		c.Settings.Theme != ui.ThemeSystem || c.Settings.SendKey != ui.SendEnter {
		t.Fatalf("not sanitised: %+v", c.Settings)
	}

	// A damaged file is kept aside, never lost, and the app starts with defaults.
	os.WriteFile(p, []byte(`{not json`), 0o644)
	c, err = LoadConfig(p)
	if err == nil || c.Settings != DefaultSettings() {
		t.Fatalf("damaged file: %v %+v", err, c.Settings)
	}
	if b, _ := os.ReadFile(p + ".bad"); string(b) != `{not json` {
		t.Fatalf("damaged file not kept: %q", b)
	}
}

func TestParseMemAvailable(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    8000000 kB\n", 8000000 << 10},
		{"MemTotal: 1 kB\n", 0},
		{"MemAvailable: lots kB\n", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := parseMemAvailable(bufio.NewScanner(strings.NewReader(tt.in))); got != tt.want {
			t.Errorf("%q: %d, want %d", tt.in, got, tt.want)
		}
	}
}
