package history

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Roles of a message; the same strings the engine uses.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

func validRole(r string) bool {
	return r == RoleSystem || r == RoleUser || r == RoleAssistant
}

// ID identifies a conversation: 16 bytes, a 48-bit millisecond timestamp then
// random bits (UUIDv7 layout), so IDs sort by creation time.
type ID [16]byte

// String is the 32-digit lowercase hex form used in the CLI and exports.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses the 32-digit hex form.
func ParseID(s string) (ID, error) {
	var id ID
	s = strings.TrimSpace(s)
	if len(s) != 32 {
		return id, fmt.Errorf("conversation id %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("conversation id %q: %v", s, err)
	}
	return id, nil
}

// MarshalText lets IDs appear as strings in JSON.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the hex form.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

var idMu sync.Mutex
var lastIDms uint64

// NewID returns a fresh, time-ordered ID.
func NewID(now time.Time) ID {
	var id ID
	ms := uint64(now.UnixMilli())
	idMu.Lock()
	if ms <= lastIDms { // keep creation order strict within a millisecond
		ms = lastIDms + 1
	}
	lastIDms = ms
	idMu.Unlock()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ms)
	copy(id[:6], b[2:])
	if _, err := rand.Read(id[6:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	id[6] = id[6]&0x0f | 0x70 // version 7
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

// Sampling is how replies in a conversation are generated. It mirrors the
// engine's sampler settings without importing the engine.
type Sampling struct {
	Greedy            bool    `json:"greedy,omitempty"`
	Temperature       float32 `json:"temperature"`
	TopK              int     `json:"top_k"`
	TopP              float32 `json:"top_p"`
	RepetitionPenalty float32 `json:"repetition_penalty"`
	RepetitionWindow  int     `json:"repetition_window"`
	Seed              uint64  `json:"seed,omitempty"`
	MaxTokens         int     `json:"max_tokens,omitempty"`
	ContextLength     int     `json:"context_length,omitempty"`
}

// Conversation is one chat thread's metadata; its messages are read with
// Store.Messages.
type Conversation struct {
	ID           ID
	Title        string // "" until the first user message names it (see AutoTitle)
	Created      time.Time
	Updated      time.Time // last message activity; orders the list
	Model        string    // model used (last one chosen for the thread)
	SystemPrompt string
	Sampling     Sampling
	Pinned       bool
	MessageCount int

	nextSeq uint64 // sequence number of the next message
}

// DisplayTitle is the title, or "New chat" for a conversation not named yet.
func (c Conversation) DisplayTitle() string {
	if c.Title == "" {
		return "New chat"
	}
	return c.Title
}

// Stats describe how a reply was generated.
type Stats struct {
	PromptTokens     int
	CachedTokens     int
	GeneratedTokens  int
	TimeToFirstToken time.Duration
	Duration         time.Duration // whole generation
	PrefillTokPerSec float64
	TokPerSec        float64 // decode speed
	CacheHitRate     float64 // expert cache hits / lookups
}

// Message is one turn. Seq orders messages within a conversation and, with
// ConvID, identifies the message.
type Message struct {
	ConvID     ID
	Seq        uint64
	Role       string
	Text       string
	Thinking   string // reasoning shown collapsed; may be empty
	Created    time.Time
	Model      string
	Stats      Stats
	StopReason string // why generation ended ("end", "max_tokens", "cancelled", ...)
	// Incomplete marks a reply that is still streaming, or whose stream was
	// cut off by a crash: its text is the last checkpoint.
	Incomplete bool
}

// Preset is a named set of generation settings for one model.
type Preset struct {
	Model        string
	Name         string
	SystemPrompt string
	Sampling     Sampling
	Updated      time.Time
}
