// Package history keeps the user's conversations in a Badger v4 database:
// conversations, their messages with generation stats, per-model presets,
// full-text search, and Markdown/JSON export and JSON import. It never
// imports Fyne or the engine; its types are plain structs.
//
// # Recording a chat
//
//	s, err := history.Open(dir) // dir: history.DefaultDir(), or the app's storage
//	switch {
//	case errors.Is(err, history.ErrLocked):  // another instance has it: focus that one
//	case errors.Is(err, history.ErrCorrupt): // say so; offer history.MoveAside(dir), then Open again
//	}
//	defer s.Close() // exactly once, after every other call has returned
//
//	c, _ := s.CreateConversation(history.Conversation{Model: "smallthinker-4b", SystemPrompt: sys})
//	s.AppendMessage(c.ID, history.Message{Role: history.RoleUser, Text: prompt}) // saved when it returns
//
//	r, _ := s.BeginReply(c.ID, "smallthinker-4b")
//	for piece := range stream {
//		text += piece.Text
//		r.Update(text, thinking, stats) // whole text so far; written at most every ~2 s
//	}
//	r.Finish(text, thinking, stats, "end") // the final write
//
// The first user message titles an untitled conversation (AutoTitle).
//
// # Sidebar and management
//
// List(offset, limit) returns pinned conversations first, then the most
// recently active. Messages(id), Rename, Pin, UpdateConversation (model,
// system prompt, sampling), TruncateAfter (edit/regenerate), Delete,
// DeleteAll, Search(query, limit), ExportMarkdown, ExportJSON, Import, and
// SavePreset/Presets/DeletePreset for per-model settings.
//
// # Durability
//
// Writes are synchronous: when AppendMessage or Finish returns nil the
// message survives kill -9 and power loss. A streaming reply is stored
// Incomplete until Finish; after a crash it is there up to its last
// checkpoint and still marked Incomplete. A deletion cut short by a crash is
// completed at the next Open. A damaged database is never deleted:
// Open returns ErrCorrupt and MoveAside renames the directory. A damaged
// record is skipped by List, Messages, Search and export, which return the
// rest together with an error wrapping ErrCorrupt. Verify checks every
// block checksum (run it at idle; about a second per 50 MB). Value-log GC
// runs in the background 30 s after Open and every 10 minutes.
//
// # Search
//
// Search(query, limit): every term must start a word in the title, the text
// or the thinking ("cach" finds "Caching"); case-insensitive with Unicode
// case folding and NFC normalization; CJK characters are words of their
// own; "quoted phrases" keep their word order. A one-letter word at the end
// of a term ("a", "is a") matches that word only. Results come in sidebar
// order, and work stops once limit hits are found.
//
// # Storage
//
// Keys (see keys.go and index.go) are designed for prefix scans: the sidebar
// order is its own key range (pinned, then newest first), messages are
// ordered by conversation and sequence number, and search uses a word index
// (word -> conversation -> message sequence numbers, each with the word's
// positions, so phrases are matched from the index; plus two-letter
// prefix -> conversation -> sequence numbers for search-as-you-type) kept in
// the same transactions as the text. Records use a compact versioned binary
// format (record.go); the schema version key drives migrations at Open.
// Opening a schema-1 history rebuilds its index once (about 30 s of CPU
// per 100,000 messages).
package history
