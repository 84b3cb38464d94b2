package history

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

func getConv(txn *badger.Txn, id ID) (Conversation, error) {
	item, err := txn.Get(convKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Conversation{}, fmt.Errorf("conversation %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Conversation{}, err
	}
	var c Conversation
	err = item.Value(func(b []byte) error {
		c, err = decodeConversation(b)
		return err
	})
	if err != nil {
		return Conversation{}, fmt.Errorf("conversation %s: %w", id, err)
	}
	c.ID = id
	return c, nil
}

// putConv writes c, moves its sidebar entry if its order changed since old
// and keeps the title's search postings in step.
func putConv(txn *badger.Txn, old, c *Conversation) error {
	nk := recentKey(c)
	if old != nil {
		if ok := recentKey(old); !bytes.Equal(ok, nk) {
			if err := txn.Delete(ok); err != nil {
				return err
			}
		}
	}
	if old == nil || old.Title != c.Title {
		var f folder
		var oldWords textIndex
		if old != nil {
			oldWords = textWords(&f, []byte(old.Title))
		}
		if err := reindex(txn, c.ID, titleSeq, oldWords, textWords(&f, []byte(c.Title))); err != nil {
			return err
		}
	}
	if err := txn.Set(convKey(c.ID), encodeConversation(c)); err != nil {
		return err
	}
	return txn.Set(nk, nil)
}

// CreateConversation stores a new conversation from c's Title, Model,
// SystemPrompt, Sampling and Pinned; it assigns the ID and timestamps.
func (s *Store) CreateConversation(c Conversation) (Conversation, error) {
	now := s.now().UTC()
	c.ID = NewID(now)
	c.Created, c.Updated = now, now
	c.MessageCount, c.nextSeq = 0, 0
	c.Title = cleanTitle(c.Title)
	err := s.update(func(txn *badger.Txn) error { return putConv(txn, nil, &c) })
	if err != nil {
		return Conversation{}, err
	}
	return c, nil
}

// Conversation returns one conversation's metadata.
func (s *Store) Conversation(id ID) (Conversation, error) {
	var c Conversation
	err := s.view(func(txn *badger.Txn) (err error) {
		c, err = getConv(txn, id)
		return err
	})
	return c, err
}

// List returns conversations for the sidebar: pinned ones first, then the
// most recently updated first. offset and limit page through them; limit <= 0
// means all. A conversation whose record cannot be read is left out and
// reported in an error wrapping ErrCorrupt, returned with the rest.
func (s *Store) List(offset, limit int) ([]Conversation, error) {
	var out []Conversation
	var damaged []error
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixRecent})
		defer it.Close()
		i := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if i < offset {
				i++
				continue
			}
			if limit > 0 && len(out) >= limit {
				break
			}
			id, ok := idFromRecentKey(it.Item().Key())
			if !ok {
				return fmt.Errorf("%w: malformed list key %x", ErrCorrupt, it.Item().Key())
			}
			c, err := getConv(txn, id)
			if errors.Is(err, ErrNotFound) {
				continue // a stale entry cannot happen in one txn, but never fail the sidebar on it
			}
			if errors.Is(err, ErrCorrupt) {
				damaged = append(damaged, err)
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, c)
			i++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(damaged...)
}

// Count is the number of conversations.
func (s *Store) Count() (int, error) {
	n := 0
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixConv})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// UpdateConversation applies fn to a conversation's settings (title, model,
// system prompt, sampling, pinned) and saves it. ID, timestamps and message
// counts are kept as they were.
func (s *Store) UpdateConversation(id ID, fn func(c *Conversation)) (Conversation, error) {
	var out Conversation
	err := s.update(func(txn *badger.Txn) error {
		old, err := getConv(txn, id)
		if err != nil {
			return err
		}
		c := old
		fn(&c)
		c.ID, c.Created, c.Updated = old.ID, old.Created, old.Updated
		c.MessageCount, c.nextSeq = old.MessageCount, old.nextSeq
		c.Title = cleanTitle(c.Title)
		out = c
		return putConv(txn, &old, &c)
	})
	return out, err
}

// Rename sets a conversation's title. An empty title lets the next user
// message name it again.
func (s *Store) Rename(id ID, title string) error {
	_, err := s.UpdateConversation(id, func(c *Conversation) { c.Title = title })
	return err
}

// Pin pins (or unpins) a conversation at the top of the list.
func (s *Store) Pin(id ID, pinned bool) error {
	_, err := s.UpdateConversation(id, func(c *Conversation) { c.Pinned = pinned })
	return err
}

// AppendMessage adds m at the end of a conversation and returns it with its
// ConvID, Seq and Created set. When it returns nil the message is on disk and
// survives a crash. The first user message titles an untitled conversation.
func (s *Store) AppendMessage(convID ID, m Message) (Message, error) {
	if !validRole(m.Role) {
		return Message{}, fmt.Errorf("append message: unknown role %q", m.Role)
	}
	if !utf8.ValidString(m.Text) || !utf8.ValidString(m.Thinking) {
		return Message{}, errors.New("append message: text is not valid UTF-8")
	}
	now := s.now().UTC()
	if m.Created.IsZero() {
		m.Created = now
	}
	m.Created = m.Created.UTC()
	err := s.update(func(txn *badger.Txn) error {
		old, err := getConv(txn, convID)
		if err != nil {
			return err
		}
		c := old
		m.ConvID, m.Seq = convID, c.nextSeq
		c.nextSeq++
		c.MessageCount++
		c.Updated = now
		if c.Title == "" && m.Role == RoleUser {
			c.Title = AutoTitle(m.Text)
		}
		if err := txn.Set(msgKey(convID, m.Seq), encodeMessage(&m)); err != nil {
			return err
		}
		var f folder
		if err := reindex(txn, convID, m.Seq, textIndex{}, messageWords(&f, &m)); err != nil {
			return err
		}
		return putConv(txn, &old, &c)
	})
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

// putMessage overwrites an existing message (streaming checkpoints) and,
// when touch is set, bumps the conversation's Updated time.
func (s *Store) putMessage(m *Message, touch bool) error {
	return s.update(func(txn *badger.Txn) error {
		// Reading the conversation makes a concurrent Delete conflict with
		// this write instead of leaving an orphan message behind.
		old, err := getConv(txn, m.ConvID)
		if err != nil {
			return err
		}
		item, err := txn.Get(msgKey(m.ConvID, m.Seq))
		if err != nil {
			if errors.Is(err, badger.ErrKeyNotFound) {
				return fmt.Errorf("message %s/%d: %w", m.ConvID, m.Seq, ErrNotFound)
			}
			return err
		}
		prev, err := itemMessage(item)
		if err != nil {
			return err
		}
		if err := txn.Set(msgKey(m.ConvID, m.Seq), encodeMessage(m)); err != nil {
			return err
		}
		var f folder
		if err := reindex(txn, m.ConvID, m.Seq, messageWords(&f, &prev), messageWords(&f, m)); err != nil {
			return err
		}
		if !touch {
			return nil
		}
		c := old
		c.Updated = s.now().UTC()
		return putConv(txn, &old, &c)
	})
}

// Messages returns a conversation's messages in order. A message whose
// record cannot be read is left out and reported in an error wrapping
// ErrCorrupt, returned together with every message that could be read, so
// one damaged record never hides a whole conversation.
func (s *Store) Messages(convID ID) ([]Message, error) {
	var out []Message
	var damaged []error
	err := s.view(func(txn *badger.Txn) error {
		if _, err := getConv(txn, convID); err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: msgPrefix(convID), PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			m, err := itemMessage(it.Item())
			if errors.Is(err, ErrCorrupt) {
				damaged = append(damaged, err)
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(damaged...)
}

// Message returns one message.
func (s *Store) Message(convID ID, seq uint64) (Message, error) {
	var m Message
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(msgKey(convID, seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("message %s/%d: %w", convID, seq, ErrNotFound)
		}
		if err != nil {
			return err
		}
		m, err = itemMessage(item)
		return err
	})
	return m, err
}

func itemMessage(item *badger.Item) (Message, error) {
	id, seq, ok := parseMsgKey(item.Key())
	if !ok {
		return Message{}, fmt.Errorf("%w: malformed message key %x", ErrCorrupt, item.Key())
	}
	var m Message
	err := item.Value(func(b []byte) (err error) {
		m, err = decodeMessage(b)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("message %s/%d: %w", id, seq, err)
	}
	m.ConvID, m.Seq = id, seq
	return m, nil
}

// TruncateAfter deletes every message after seq (for edit and regenerate).
func (s *Store) TruncateAfter(convID ID, seq uint64) error {
	return s.update(func(txn *badger.Txn) error {
		old, err := getConv(txn, convID)
		if err != nil {
			return err
		}
		c := old
		it := txn.NewIterator(badger.IteratorOptions{Prefix: msgPrefix(convID), PrefetchValues: true})
		var gone []Message
		for it.Seek(msgKey(convID, seq+1)); it.Valid(); it.Next() {
			m, err := itemMessage(it.Item())
			if err != nil {
				it.Close()
				return err
			}
			gone = append(gone, m)
		}
		it.Close()
		var f folder
		for _, m := range gone {
			if err := txn.Delete(msgKey(convID, m.Seq)); err != nil {
				return err
			}
			if err := reindex(txn, convID, m.Seq, messageWords(&f, &m), textIndex{}); err != nil {
				return err
			}
		}
		c.MessageCount -= len(gone)
		c.Updated = s.now().UTC()
		return putConv(txn, &old, &c)
	})
}

// Delete removes a conversation and all its messages. The conversation
// disappears atomically; its messages are removed in batches, and a deletion
// cut short by a crash is finished at the next Open.
func (s *Store) Delete(id ID) error {
	err := s.update(func(txn *badger.Txn) error {
		c, err := getConv(txn, id)
		if err != nil {
			return err
		}
		if err := txn.Delete(convKey(id)); err != nil {
			return err
		}
		if err := txn.Delete(recentKey(&c)); err != nil {
			return err
		}
		var f folder
		if err := reindex(txn, id, titleSeq, textWords(&f, []byte(c.Title)), textIndex{}); err != nil {
			return err
		}
		return txn.Set(deletedKey(id), nil)
	})
	if err != nil {
		return err
	}
	return s.purge(id)
}

// purge deletes a deleted conversation's messages, then its deletion marker.
func (s *Store) purge(id ID) error {
	done, err := s.use()
	if err != nil {
		return err
	}
	defer done()
	// Collect the message keys and their search postings. A record that
	// cannot be decoded is still deleted; its postings, if any, only ever
	// point at a message that is gone, which search skips.
	var keys [][]byte
	var f folder
	wordSet, startSet := map[string]bool{}, map[string]bool{}
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: msgPrefix(id), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
			if m, err := itemMessage(it.Item()); err == nil {
				ti := messageWords(&f, &m)
				for w := range ti.words {
					wordSet[w] = true
				}
				for p := range ti.starts {
					startSet[p] = true
				}
			}
		}
		return nil
	})
	for w := range wordSet {
		keys = append(keys, wordKey([]byte(w), id))
	}
	for p := range startSet {
		keys = append(keys, shortKey([]byte(p), id))
	}
	if err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	if err := wb.Delete(deletedKey(id)); err != nil {
		return err
	}
	return wb.Flush()
}

func (s *Store) finishDeletions() error {
	var ids []ID
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixDeleted})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) == len(prefixDeleted)+16 {
				var id ID
				copy(id[:], k[len(prefixDeleted):])
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finishing interrupted deletions: %w", err)
	}
	for _, id := range ids {
		if err := s.purge(id); err != nil {
			return fmt.Errorf("finishing the deletion of %s: %w", id, err)
		}
	}
	return nil
}

// DeleteAll removes every conversation and message. Presets are kept.
func (s *Store) DeleteAll() error {
	done, err := s.use()
	if err != nil {
		return err
	}
	defer done()
	return s.db.DropPrefix(prefixConv, prefixRecent, prefixMsg, prefixDeleted, prefixWord, prefixShort)
}

const maxTitleRunes = 60

// AutoTitle makes a conversation title from its first user message: the
// first non-empty line with runs of spaces collapsed, cut at a word boundary
// to about 60 characters.
func AutoTitle(text string) string {
	line := ""
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			line = l
			break
		}
	}
	line = strings.Join(strings.Fields(line), " ")
	if utf8.RuneCountInString(line) <= maxTitleRunes {
		return line
	}
	r := []rune(line)[:maxTitleRunes]
	cut := len(r)
	for i := len(r) - 1; i > maxTitleRunes/2; i-- {
		if unicode.IsSpace(r[i]) {
			cut = i
			break
		}
	}
	return strings.TrimRightFunc(string(r[:cut]), func(c rune) bool {
		return unicode.IsSpace(c) || unicode.IsPunct(c)
	}) + "…"
}

// cleanTitle keeps titles to one line.
func cleanTitle(t string) string {
	t = strings.ToValidUTF8(t, "\uFFFD")
	return strings.Join(strings.Fields(t), " ")
}
