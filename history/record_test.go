package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"slices"
	"sort"
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

// positions encodes word positions the way the index stores them.
func positions(ps ...uint32) []byte {
	var b []byte
	for i, p := range ps {
		if i > 0 {
			p -= ps[i-1]
		}
		b = binary.AppendUvarint(b, uint64(p))
	}
	return b
}

func TestPostingsRoundTrip(t *testing.T) {
	for _, ps := range [][]posting{
		{{0, positions(0)}},
		{{0, positions(0, 3)}, {1, nil}, {2, positions(7)}},
		{{5, positions(1, 2, 3)}, {300, nil}, {70000, positions(65535, math.MaxUint32)}, {titleSeq, positions(0)}},
		{{titleSeq, nil}},
	} {
		b := encodePostings(ps)
		got, err := decodePostings(b)
		if err != nil || len(got) != len(ps) {
			t.Fatalf("%v: got %v, %v", ps, got, err)
		}
		seqs, err := decodeSeqs(b)
		if err != nil || len(seqs) != len(ps) {
			t.Fatalf("%v: seqs %v, %v", ps, seqs, err)
		}
		for i := range ps {
			if got[i].seq != ps[i].seq || !bytes.Equal(got[i].pos, ps[i].pos) || seqs[i] != ps[i].seq {
				t.Errorf("%v: posting %d decoded as %v (seq %d)", ps, i, got[i], seqs[i])
			}
		}
	}
	for name, b := range map[string][]byte{
		"zero delta":          {3, 0, 0, 0},
		"overflow":            {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 1, 0},
		"truncated":           {0x80},
		"no length":           {4},
		"positions past end":  {0, 5, 1},
		"overlong":            {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0},
		"wraps round":         append(encodePostings([]posting{{titleSeq - 1, nil}}), 2, 0),
		"position repeated":   {0, 2, 3, 0},
		"position over 32bit": {0, 5, 0x80, 0x80, 0x80, 0x80, 0x10},
		"position truncated":  {0, 1, 0x80},
		"position wraps":      {0, 11, 5, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		if _, err := decodePostings(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzDecodePostings: a posting list read from disk is either rejected or
// strictly ascending (seqs, and each text's positions), decodeSeqs agrees,
// and it re-encodes to the same list.
func FuzzDecodePostings(f *testing.F) {
	f.Add(encodePostings([]posting{{0, positions(0, 4)}, {1, nil}, {7, positions(2)}, {titleSeq, positions(0, 1)}}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := decodePostings(b)
		if err != nil {
			return
		}
		seqs, err := decodeSeqs(b)
		if err != nil || len(seqs) != len(ps) {
			t.Fatalf("decodeSeqs disagrees: %v, %v for %v", seqs, err, ps)
		}
		for i, p := range ps {
			if seqs[i] != p.seq || i > 0 && p.seq <= ps[i-1].seq {
				t.Fatalf("seqs not ascending or disagreeing: %v vs %v", ps, seqs)
			}
			pos, err := decodePositions(nil, p.pos)
			if err != nil {
				t.Fatalf("accepted list has bad positions: %v", err)
			}
			for j := 1; j < len(pos); j++ {
				if pos[j] <= pos[j-1] {
					t.Fatalf("positions not ascending: %v", pos)
				}
			}
			if again, err := decodePositions(nil, positions(pos...)); err != nil || !reflect.DeepEqual(again, pos) && len(pos) > 0 {
				t.Fatalf("positions %v re-encode as %v, %v", pos, again, err)
			}
		}
		again, err := decodePostings(encodePostings(ps))
		if err != nil || len(again) != len(ps) {
			t.Fatalf("re-encode: %v → %v, %v", ps, again, err)
		}
		for i := range ps {
			if again[i].seq != ps[i].seq || !bytes.Equal(again[i].pos, ps[i].pos) {
				t.Fatalf("re-encode: posting %d %v → %v", i, ps[i], again[i])
			}
		}
	})
}

// FuzzEditList: editing a list in place (editPosting's byte surgery) gives
// the same list as decoding, editing the postings and encoding again.
func FuzzEditList(f *testing.F) {
	f.Add(encodePostings([]posting{{0, positions(0, 4)}, {3, nil}, {7, positions(2)}}), uint64(3), true, positions(1))
	f.Add(encodePostings([]posting{{0, positions(0, 4)}, {3, nil}, {7, positions(2)}}), uint64(3), false, []byte(nil))
	f.Add(encodePostings([]posting{{2, nil}}), uint64(9), true, positions(0, 1))
	f.Add([]byte{}, uint64(0), true, []byte(nil))
	f.Fuzz(func(t *testing.T, b []byte, seq uint64, set bool, pos []byte) {
		p := posting{seq, pos}
		if checkPositions(pos) != nil {
			return
		}
		if _, err := decodeSeqs(b); err != nil { // damaged: p replaces it, or nothing happens
			out, changed := editList(b, p, set)
			if got, err := decodePostings(out); changed != set || set && (err != nil || len(got) != 1 || got[0].seq != seq) || !set && !bytes.Equal(out, b) {
				t.Fatalf("editing a damaged list: %v %v (%v)", got, changed, err)
			}
			return
		}
		ps, err := decodePostings(b)
		if err != nil {
			return // bad positions: copied as they are
		}
		i := sort.Search(len(ps), func(i int) bool { return ps[i].seq >= seq })
		present := i < len(ps) && ps[i].seq == seq
		want := slices.Clone(ps)
		switch {
		case set && present:
			want[i] = p
		case set:
			want = slices.Insert(want, i, p)
		case present:
			want = slices.Delete(want, i, i+1)
		}
		out, changed := editList(b, p, set)
		if changed != (set || present) {
			t.Fatalf("changed = %v for set %v, present %v", changed, set, present)
		}
		got, err := decodePostings(out)
		if err != nil {
			t.Fatalf("edited list does not decode: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("edited list %v, want %v", got, want)
		}
		for i := range got {
			if got[i].seq != want[i].seq || !bytes.Equal(got[i].pos, want[i].pos) {
				t.Fatalf("edited list %v, want %v", got, want)
			}
		}
	})
}
