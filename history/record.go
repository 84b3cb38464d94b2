package history

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Records are stored in a compact binary format: a kind byte, a version byte,
// then the fields in a fixed order (uvarints, zig-zag varints, 8-byte floats
// and length-prefixed UTF-8 strings). Binary rather than JSON because search
// scans every message and must not pay for JSON decoding. A reader rejects a
// version it does not know instead of guessing; migrations rewrite records.
const (
	kindConversation = 'c'
	kindMessage      = 'm'
	kindPreset       = 'p'

	recordVersion = 1

	// maxField bounds any one string so a corrupt length cannot ask for
	// gigabytes; it is far above any real message.
	maxField = 64 << 20
)

// errRecord is wrapped by every decoding error; it in turn wraps ErrCorrupt.
var errRecord = fmt.Errorf("%w: bad record", ErrCorrupt)

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) float(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0 // a division by zero in a stat must not make the record unreadable
	}
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v))
}
func (e *encoder) str(s string) { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.varint(math.MinInt64)
		return
	}
	e.varint(t.UnixNano())
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errRecord}, args...)...)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated or overlong integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("truncated or overlong integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count decodes a non-negative int that must fit comfortably in an int.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > math.MaxInt32 {
		d.fail("count %d out of range", v)
		return 0
	}
	return int(v)
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated float")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	if math.IsNaN(v) || math.IsInf(v, 0) {
		d.fail("non-finite number")
		return 0
	}
	return v
}

func (d *decoder) float32() float32 {
	v := d.float()
	if math.Abs(v) > math.MaxFloat32 {
		d.fail("number %g out of range", v)
		return 0
	}
	return float32(v)
}

// bytes returns a string field without copying; valid while the input is.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > maxField || n > uint64(len(d.b)) {
		d.fail("string length %d exceeds the record", n)
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	if !utf8.Valid(s) {
		d.fail("string is not valid UTF-8")
		return nil
	}
	return s
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) time() time.Time {
	v := d.varint()
	if v == math.MinInt64 || d.err != nil {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func (d *decoder) header(kind byte) {
	if len(d.b) < 2 {
		d.fail("record too short")
		return
	}
	if d.b[0] != kind {
		d.fail("record kind %q, want %q", d.b[0], kind)
		return
	}
	if d.b[1] != recordVersion {
		d.fail("record version %d is not supported (this build reads version %d)", d.b[1], recordVersion)
		return
	}
	d.b = d.b[2:]
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// Conversation flag bits.
const (
	convPinned = 1 << iota
)

// Message flag bits.
const (
	msgIncomplete = 1 << iota
)

func (e *encoder) sampling(s Sampling) {
	flags := uint64(0)
	if s.Greedy {
		flags = 1
	}
	e.uvarint(flags)
	e.float(float64(s.Temperature))
	e.uvarint(uint64(s.TopK))
	e.float(float64(s.TopP))
	e.float(float64(s.RepetitionPenalty))
	e.uvarint(uint64(s.RepetitionWindow))
	e.uvarint(s.Seed)
	e.uvarint(uint64(s.MaxTokens))
	e.uvarint(uint64(s.ContextLength))
}

func (d *decoder) sampling() Sampling {
	var s Sampling
	flags := d.uvarint()
	if flags > 1 {
		d.fail("unknown sampling flags %#x", flags)
	}
	s.Greedy = flags&1 != 0
	s.Temperature = d.float32()
	s.TopK = d.count()
	s.TopP = d.float32()
	s.RepetitionPenalty = d.float32()
	s.RepetitionWindow = d.count()
	s.Seed = d.uvarint()
	s.MaxTokens = d.count()
	s.ContextLength = d.count()
	return s
}

func encodeConversation(c *Conversation) []byte {
	e := encoder{b: make([]byte, 0, 64+len(c.Title)+len(c.SystemPrompt))}
	e.b = append(e.b, kindConversation, recordVersion)
	flags := uint64(0)
	if c.Pinned {
		flags |= convPinned
	}
	e.uvarint(flags)
	e.str(c.Title)
	e.time(c.Created)
	e.time(c.Updated)
	e.str(c.Model)
	e.str(c.SystemPrompt)
	e.sampling(c.Sampling)
	e.uvarint(c.nextSeq)
	e.uvarint(uint64(c.MessageCount))
	return e.b
}

func decodeConversation(b []byte) (Conversation, error) {
	d := decoder{b: b}
	d.header(kindConversation)
	var c Conversation
	flags := d.uvarint()
	if flags&^convPinned != 0 {
		d.fail("unknown conversation flags %#x", flags)
	}
	c.Pinned = flags&convPinned != 0
	c.Title = d.str()
	c.Created = d.time()
	c.Updated = d.time()
	c.Model = d.str()
	c.SystemPrompt = d.str()
	c.Sampling = d.sampling()
	c.nextSeq = d.uvarint()
	c.MessageCount = d.count()
	if err := d.end(); err != nil {
		return Conversation{}, err
	}
	return c, nil
}

func encodeMessage(m *Message) []byte {
	e := encoder{b: make([]byte, 0, 64+len(m.Text)+len(m.Thinking))}
	e.b = append(e.b, kindMessage, recordVersion)
	flags := uint64(0)
	if m.Incomplete {
		flags |= msgIncomplete
	}
	e.uvarint(flags)
	e.str(m.Role)
	e.time(m.Created)
	e.str(m.Model)
	// Text and thinking come last but one so search can stop decoding early.
	e.str(m.Text)
	e.str(m.Thinking)
	s := m.Stats
	e.uvarint(uint64(s.PromptTokens))
	e.uvarint(uint64(s.CachedTokens))
	e.uvarint(uint64(s.GeneratedTokens))
	e.varint(int64(s.TimeToFirstToken))
	e.varint(int64(s.Duration))
	e.float(s.PrefillTokPerSec)
	e.float(s.TokPerSec)
	e.float(s.CacheHitRate)
	e.str(m.StopReason)
	return e.b
}

func decodeMessage(b []byte) (Message, error) {
	d := decoder{b: b}
	d.header(kindMessage)
	var m Message
	flags := d.uvarint()
	if flags&^msgIncomplete != 0 {
		d.fail("unknown message flags %#x", flags)
	}
	m.Incomplete = flags&msgIncomplete != 0
	m.Role = d.str()
	m.Created = d.time()
	m.Model = d.str()
	m.Text = d.str()
	m.Thinking = d.str()
	m.Stats.PromptTokens = d.count()
	m.Stats.CachedTokens = d.count()
	m.Stats.GeneratedTokens = d.count()
	m.Stats.TimeToFirstToken = time.Duration(d.varint())
	m.Stats.Duration = time.Duration(d.varint())
	m.Stats.PrefillTokPerSec = d.float()
	m.Stats.TokPerSec = d.float()
	m.Stats.CacheHitRate = d.float()
	m.StopReason = d.str()
	if err := d.end(); err != nil {
		return Message{}, err
	}
	if !validRole(m.Role) {
		return Message{}, fmt.Errorf("%w: unknown role %q", errRecord, m.Role)
	}
	return m, nil
}

// messageTexts returns the text and thinking of an encoded message without
// copying or decoding the rest: the search hot path.
func messageTexts(b []byte) (text, thinking []byte, err error) {
	d := decoder{b: b}
	d.header(kindMessage)
	d.uvarint()
	d.bytes()
	d.varint()
	d.bytes()
	text = d.bytes()
	thinking = d.bytes()
	return text, thinking, d.err
}

func encodePreset(p *Preset) []byte {
	e := encoder{b: make([]byte, 0, 64+len(p.SystemPrompt))}
	e.b = append(e.b, kindPreset, recordVersion)
	e.str(p.Model)
	e.str(p.Name)
	e.str(p.SystemPrompt)
	e.sampling(p.Sampling)
	e.time(p.Updated)
	return e.b
}

func decodePreset(b []byte) (Preset, error) {
	d := decoder{b: b}
	d.header(kindPreset)
	var p Preset
	p.Model = d.str()
	p.Name = d.str()
	p.SystemPrompt = d.str()
	p.Sampling = d.sampling()
	p.Updated = d.time()
	if err := d.end(); err != nil {
		return Preset{}, err
	}
	return p, nil
}

// decodeRecord decodes any record by its kind byte; the fuzz target.
func decodeRecord(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty record", errRecord)
	}
	switch b[0] {
	case kindConversation:
		return decodeConversation(b)
	case kindMessage:
		return decodeMessage(b)
	case kindPreset:
		return decodePreset(b)
	}
	return nil, fmt.Errorf("%w: unknown record kind %#x", errRecord, b[0])
}
