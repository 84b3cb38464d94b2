package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// ExportFormat names the JSON export format; ExportVersion is its version.
const (
	ExportFormat  = "smallthinker-chat-history"
	ExportVersion = 1
)

// exportFile is the JSON export: plain, documented field names so other
// tools can read it.
type exportFile struct {
	Format        string       `json:"format"`
	Version       int          `json:"version"`
	Exported      time.Time    `json:"exported"`
	Conversations []exportConv `json:"conversations"`
}

type exportConv struct {
	ID           ID              `json:"id"`
	Title        string          `json:"title"`
	Created      time.Time       `json:"created"`
	Updated      time.Time       `json:"updated"`
	Model        string          `json:"model,omitempty"`
	SystemPrompt string          `json:"system_prompt,omitempty"`
	Sampling     Sampling        `json:"sampling"`
	Pinned       bool            `json:"pinned,omitempty"`
	Messages     []exportMessage `json:"messages"`
}

type exportMessage struct {
	Seq        uint64      `json:"seq"`
	Role       string      `json:"role"`
	Text       string      `json:"text"`
	Thinking   string      `json:"thinking,omitempty"`
	Created    time.Time   `json:"created"`
	Model      string      `json:"model,omitempty"`
	Stats      exportStats `json:"stats"`
	StopReason string      `json:"stop_reason,omitempty"`
	Incomplete bool        `json:"incomplete,omitempty"`
}

type exportStats struct {
	PromptTokens     int     `json:"prompt_tokens,omitempty"`
	CachedTokens     int     `json:"cached_tokens,omitempty"`
	GeneratedTokens  int     `json:"generated_tokens,omitempty"`
	TimeToFirstToken string  `json:"time_to_first_token,omitempty"` // Go duration, e.g. "412ms"
	Duration         string  `json:"duration,omitempty"`
	PrefillTokPerSec float64 `json:"prefill_tok_per_sec,omitempty"`
	TokPerSec        float64 `json:"tok_per_sec,omitempty"`
	CacheHitRate     float64 `json:"cache_hit_rate,omitempty"`
}

func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func parseDuration(s, what string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	return d, nil
}

func toExport(c Conversation, msgs []Message) exportConv {
	ec := exportConv{ID: c.ID, Title: c.Title, Created: c.Created, Updated: c.Updated, Model: c.Model,
		SystemPrompt: c.SystemPrompt, Sampling: c.Sampling, Pinned: c.Pinned, Messages: []exportMessage{}}
	for _, m := range msgs {
		ec.Messages = append(ec.Messages, exportMessage{Seq: m.Seq, Role: m.Role, Text: m.Text, Thinking: m.Thinking,
			Created: m.Created, Model: m.Model, StopReason: m.StopReason, Incomplete: m.Incomplete,
			Stats: exportStats{PromptTokens: m.Stats.PromptTokens, CachedTokens: m.Stats.CachedTokens,
				GeneratedTokens: m.Stats.GeneratedTokens, TimeToFirstToken: durationString(m.Stats.TimeToFirstToken),
				Duration: durationString(m.Stats.Duration), PrefillTokPerSec: m.Stats.PrefillTokPerSec,
				TokPerSec: m.Stats.TokPerSec, CacheHitRate: m.Stats.CacheHitRate}})
	}
	return ec
}

// exportSet resolves ids (none = every conversation, in sidebar order) and
// calls fn with each conversation and its messages. Damaged records are
// skipped and reported at the end, after everything readable was exported.
func (s *Store) exportSet(ids []ID, fn func(Conversation, []Message) error) error {
	var damaged []error
	if len(ids) == 0 {
		all, err := s.List(0, 0)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return err
		}
		damaged = append(damaged, err)
		for _, c := range all {
			ids = append(ids, c.ID)
		}
	}
	for _, id := range ids {
		c, err := s.Conversation(id)
		if err != nil {
			return err
		}
		msgs, err := s.Messages(id)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return err
		}
		damaged = append(damaged, err)
		if err := fn(c, msgs); err != nil {
			return err
		}
	}
	return errors.Join(damaged...)
}

// ExportJSON writes the given conversations (all when none are given) as
// JSON that Import reads back.
func (s *Store) ExportJSON(w io.Writer, ids ...ID) error {
	bw := bufio.NewWriter(w)
	head, _ := json.Marshal(ExportFormat)
	fmt.Fprintf(bw, "{\n  \"format\": %s,\n  \"version\": %d,\n  \"exported\": %q,\n  \"conversations\": [", head, ExportVersion, s.now().UTC().Format(time.RFC3339))
	first := true
	err := s.exportSet(ids, func(c Conversation, msgs []Message) error {
		b, err := json.MarshalIndent(toExport(c, msgs), "    ", "  ")
		if err != nil {
			return err
		}
		if !first {
			bw.WriteString(",")
		}
		first = false
		bw.WriteString("\n    ")
		_, err = bw.Write(b)
		return err
	})
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return err
	}
	if !first {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return errors.Join(bw.Flush(), err)
}

// ExportMarkdown writes the given conversations (all when none are given) as
// readable Markdown.
func (s *Store) ExportMarkdown(w io.Writer, ids ...ID) error {
	bw := bufio.NewWriter(w)
	first := true
	err := s.exportSet(ids, func(c Conversation, msgs []Message) error {
		if !first {
			bw.WriteString("\n---\n\n")
		}
		first = false
		writeMarkdown(bw, c, msgs)
		return nil
	})
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return err
	}
	return errors.Join(bw.Flush(), err)
}

func writeMarkdown(w *bufio.Writer, c Conversation, msgs []Message) {
	fmt.Fprintf(w, "# %s\n\n", oneLine(c.DisplayTitle()))
	meta := []string{"Created " + c.Created.Local().Format("2006-01-02 15:04")}
	if c.Model != "" {
		meta = append(meta, "model "+c.Model)
	}
	meta = append(meta, fmt.Sprintf("%d messages", len(msgs)))
	fmt.Fprintf(w, "*%s*\n\n", strings.Join(meta, " · "))
	if c.SystemPrompt != "" {
		fmt.Fprintf(w, "**System prompt**\n\n%s\n\n", quote(c.SystemPrompt))
	}
	for _, m := range msgs {
		role := map[string]string{RoleUser: "User", RoleAssistant: "Assistant", RoleSystem: "System"}[m.Role]
		fmt.Fprintf(w, "## %s\n\n", role)
		var info []string
		info = append(info, m.Created.Local().Format("2006-01-02 15:04"))
		if m.Role == RoleAssistant {
			if m.Model != "" {
				info = append(info, m.Model)
			}
			if m.Stats.GeneratedTokens > 0 {
				info = append(info, fmt.Sprintf("%d tokens", m.Stats.GeneratedTokens))
			}
			if m.Stats.TokPerSec > 0 {
				info = append(info, fmt.Sprintf("%.1f tok/s", m.Stats.TokPerSec))
			}
			if m.Stats.TimeToFirstToken > 0 {
				info = append(info, fmt.Sprintf("first token %.2f s", m.Stats.TimeToFirstToken.Seconds()))
			}
		}
		fmt.Fprintf(w, "*%s*\n\n", strings.Join(info, " · "))
		if m.Thinking != "" {
			fmt.Fprintf(w, "<details><summary>Thinking</summary>\n\n%s\n\n</details>\n\n", strings.TrimSpace(m.Thinking))
		}
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(m.Text))
		if m.Incomplete {
			w.WriteString("*(this reply was cut off)*\n\n")
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func quote(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "> " + l
	}
	return strings.Join(lines, "\n")
}

// ImportResult counts what Import did.
type ImportResult struct {
	Imported int // conversations added
	Skipped  int // conversations already present (same ID), left as they were
	Messages int // messages added
}

// Import reads a JSON export and adds its conversations, keeping their IDs,
// titles, times and messages. A conversation whose ID already exists is
// skipped, so importing the same file twice is harmless. The file is checked
// completely before anything is written.
func (s *Store) Import(r io.Reader) (ImportResult, error) {
	var res ImportResult
	convs, err := parseExport(r)
	if err != nil {
		return res, err
	}
	for _, ec := range convs {
		added, err := s.importConv(ec)
		if err != nil {
			return res, fmt.Errorf("importing %q (%s): %w", ec.c.Title, ec.c.ID, err)
		}
		if added {
			res.Imported++
			res.Messages += len(ec.msgs)
		} else {
			res.Skipped++
		}
	}
	return res, nil
}

type importedConv struct {
	c    Conversation
	msgs []Message
}

// parseExport decodes and validates an export file.
func parseExport(r io.Reader) ([]importedConv, error) {
	var f exportFile
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("reading the export: %w", err)
	}
	if f.Format != ExportFormat {
		return nil, fmt.Errorf("not a SmallThinker history export (format %q)", f.Format)
	}
	if f.Version < 1 || f.Version > ExportVersion {
		return nil, fmt.Errorf("export version %d is not supported (this build reads up to %d)", f.Version, ExportVersion)
	}
	out := make([]importedConv, 0, len(f.Conversations))
	seen := map[ID]bool{}
	for i, ec := range f.Conversations {
		c := Conversation{ID: ec.ID, Title: cleanTitle(ec.Title), Created: ec.Created.UTC(), Updated: ec.Updated.UTC(),
			Model: ec.Model, SystemPrompt: ec.SystemPrompt, Sampling: ec.Sampling, Pinned: ec.Pinned}
		if c.ID.IsZero() {
			return nil, fmt.Errorf("conversation %d has no id", i)
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("conversation %s appears twice", c.ID)
		}
		seen[c.ID] = true
		if err := checkSampling(c.Sampling); err != nil {
			return nil, fmt.Errorf("conversation %s: %w", c.ID, err)
		}
		msgs := make([]Message, 0, len(ec.Messages))
		for j, em := range ec.Messages {
			if !validRole(em.Role) {
				return nil, fmt.Errorf("conversation %s, message %d: unknown role %q", c.ID, j, em.Role)
			}
			if j > 0 && em.Seq <= msgs[j-1].Seq {
				return nil, fmt.Errorf("conversation %s, message %d: seq %d is not after %d", c.ID, j, em.Seq, msgs[j-1].Seq)
			}
			if em.Seq == titleSeq {
				return nil, fmt.Errorf("conversation %s, message %d: seq out of range", c.ID, j)
			}
			m := Message{ConvID: c.ID, Seq: em.Seq, Role: em.Role, Text: em.Text, Thinking: em.Thinking,
				Created: em.Created.UTC(), Model: em.Model, StopReason: em.StopReason, Incomplete: em.Incomplete}
			st := em.Stats
			var err1, err2 error
			m.Stats = Stats{PromptTokens: st.PromptTokens, CachedTokens: st.CachedTokens, GeneratedTokens: st.GeneratedTokens,
				PrefillTokPerSec: st.PrefillTokPerSec, TokPerSec: st.TokPerSec, CacheHitRate: st.CacheHitRate}
			m.Stats.TimeToFirstToken, err1 = parseDuration(st.TimeToFirstToken, "time_to_first_token")
			m.Stats.Duration, err2 = parseDuration(st.Duration, "duration")
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("conversation %s, message %d: %w", c.ID, j, err)
			}
			if st.PromptTokens < 0 || st.CachedTokens < 0 || st.GeneratedTokens < 0 {
				return nil, fmt.Errorf("conversation %s, message %d: negative token count", c.ID, j)
			}
			if !utf8.ValidString(m.Text) || !utf8.ValidString(m.Thinking) {
				return nil, fmt.Errorf("conversation %s, message %d: text is not valid UTF-8", c.ID, j)
			}
			msgs = append(msgs, m)
		}
		c.MessageCount = len(msgs)
		if len(msgs) > 0 {
			c.nextSeq = msgs[len(msgs)-1].Seq + 1
		}
		out = append(out, importedConv{c, msgs})
	}
	// Keep the store's list order independent of file order.
	sort.SliceStable(out, func(i, j int) bool { return out[i].c.Created.Before(out[j].c.Created) })
	return out, nil
}

func checkSampling(s Sampling) error {
	if s.TopK < 0 || s.RepetitionWindow < 0 || s.MaxTokens < 0 || s.ContextLength < 0 {
		return errors.New("sampling: negative count")
	}
	return nil
}

// importConv writes one conversation: messages and their search postings
// first (in batches), the conversation record last, so a crash midway leaves
// nothing visible and a second import completes it.
func (s *Store) importConv(ic importedConv) (bool, error) {
	if _, err := s.Conversation(ic.c.ID); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	done, err := s.use()
	if err != nil {
		return false, err
	}
	wb := s.db.NewWriteBatch()
	var f folder
	for i := range ic.msgs {
		m := &ic.msgs[i]
		if err := wb.Set(msgKey(m.ConvID, m.Seq), encodeMessage(m)); err != nil {
			wb.Cancel()
			done()
			return false, err
		}
	}
	// The title's postings are added with the conversation record below.
	if err := putConvIndex(wb, ic.c.ID, convPostings(&f, "", ic.msgs)); err != nil {
		wb.Cancel()
		done()
		return false, err
	}
	err = wb.Flush()
	done()
	if err != nil {
		return false, err
	}
	added := false
	err = s.update(func(txn *badger.Txn) error {
		if _, err := getConv(txn, ic.c.ID); err == nil {
			return nil // imported meanwhile
		}
		added = true
		c := ic.c
		return putConv(txn, nil, &c)
	})
	return added, err
}
