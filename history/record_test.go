package history

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func sampleRecords() []any {
	t0 := time.Date(2026, 2, 3, 4, 5, 6, 7, time.UTC)
	return []any{
		Conversation{Title: "Title ✓", Created: t0, Updated: t0.Add(time.Hour), Model: "4b", SystemPrompt: "sys",
			Sampling: Sampling{Greedy: true, Temperature: 0.6, TopK: 20, TopP: 0.95, RepetitionPenalty: 1.05, RepetitionWindow: 64, Seed: 1 << 63, MaxTokens: 100, ContextLength: 8192},
			Pinned:   true, MessageCount: 7, nextSeq: 9},
		Conversation{},
		Message{Role: RoleAssistant, Text: "hello", Thinking: "hm", Created: t0, Model: "21b", StopReason: "max_tokens", Incomplete: true,
			Stats: Stats{PromptTokens: 1, CachedTokens: 2, GeneratedTokens: 3, TimeToFirstToken: -4, Duration: 5, PrefillTokPerSec: 6.5, TokPerSec: 7.25, CacheHitRate: 1}},
		Message{Role: RoleUser},
		Preset{Model: "4b", Name: "n", SystemPrompt: "p", Sampling: Sampling{TopK: 1}, Updated: t0},
	}
}

func encodeAny(r any) []byte {
	switch v := r.(type) {
	case Conversation:
		return encodeConversation(&v)
	case Message:
		return encodeMessage(&v)
	case Preset:
		return encodePreset(&v)
	}
	panic("unknown record")
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range sampleRecords() {
		got, err := decodeRecord(encodeAny(r))
		if err != nil {
			t.Fatalf("%T: %v", r, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip\n got %+v\nwant %+v", got, r)
		}
	}
}

func TestRecordRejectsDamage(t *testing.T) {
	msg := encodeAny(sampleRecords()[2])
	future := append([]byte{}, msg...)
	future[1] = recordVersion + 1
	badUTF8 := encodeMessage(&Message{Role: RoleUser, Text: "ok"})
	badUTF8[len(badUTF8)-1-1-8*3-5-1] = 0xff // inside "ok"
	for name, b := range map[string][]byte{
		"empty":          nil,
		"unknown kind":   {'z', 1},
		"future version": future,
		"truncated":      msg[:len(msg)-3],
		"trailing":       append(append([]byte{}, msg...), 0),
		"huge length":    {kindMessage, recordVersion, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad role":       encodeMessage(&Message{Role: "robot"}),
		"bad flags":      {kindConversation, recordVersion, 0x7f},
		"nan":            append(append([]byte{kindMessage, recordVersion, 0, 4}, "user"...), 0),
	} {
		if _, err := decodeRecord(b); err == nil || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want an ErrCorrupt error", name, err)
		}
	}
	if _, err := decodeMessage(badUTF8); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

func TestNonFiniteStatsAreStoredAsZero(t *testing.T) {
	m := Message{Role: RoleAssistant, Stats: Stats{TokPerSec: math.Inf(1), CacheHitRate: math.NaN()}}
	got, err := decodeMessage(encodeMessage(&m))
	if err != nil || got.Stats.TokPerSec != 0 || got.Stats.CacheHitRate != 0 {
		t.Fatalf("got %+v, %v", got.Stats, err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(encodeAny(r))
	}
	f.Add([]byte{kindMessage, recordVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes must encode and decode to the same value.
		again, err := decodeRecord(encodeAny(r))
		if err != nil {
			t.Fatalf("re-decoding %+v: %v", r, err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("unstable record\n got %+v\nwant %+v", again, r)
		}
		if m, ok := r.(Message); ok {
			text, thinking, err := messageTexts(b)
			if err != nil || string(text) != m.Text || string(thinking) != m.Thinking {
				t.Fatalf("messageTexts disagrees with decodeMessage: %q %q %v", text, thinking, err)
			}
		}
	})
}

func TestSeqsRoundTrip(t *testing.T) {
	for _, seqs := range [][]uint64{{0}, {0, 1, 2}, {5, 300, 70000, titleSeq}, {titleSeq}} {
		got, err := decodeSeqs(encodeSeqs(seqs))
		if err != nil || !reflect.DeepEqual(got, seqs) {
			t.Errorf("%v: got %v, %v", seqs, got, err)
		}
	}
	for name, b := range map[string][]byte{
		"zero delta":  {3, 0},
		"overflow":    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1},
		"truncated":   {0x80},
		"overlong":    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"wraps round": append(encodeSeqs([]uint64{titleSeq - 1}), 2),
	} {
		if _, err := decodeSeqs(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzDecodeSeqs: a posting list read from disk is either rejected or
// strictly ascending, and re-encodes to the same list.
func FuzzDecodeSeqs(f *testing.F) {
	f.Add(encodeSeqs([]uint64{0, 1, 7, titleSeq}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		seqs, err := decodeSeqs(b)
		if err != nil {
			return
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Fatalf("not ascending: %v", seqs)
			}
		}
		again, err := decodeSeqs(encodeSeqs(seqs))
		if err != nil || !reflect.DeepEqual(again, seqs) {
			t.Fatalf("re-encode: %v → %v, %v", seqs, again, err)
		}
	})
}
