package history

import (
	"encoding/binary"
	"time"
)

// Key layout. Keys sort as bytes, so integers are big-endian and fixed width.
//
//	s                                     schema version (uint32 BE)
//	c/<convID:16>                         Conversation record
//	r/<unpinned:1><^updated:8><convID:16> empty: the sidebar order, pinned first, newest first
//	m/<convID:16><seq:8>                  Message record
//	d/<convID:16>                         empty: a deletion in progress (finished at Open)
//	p/<model>\x00<name>                   Preset record
//	w/<word>\x00<convID:16>               search index: word -> postings (index.go)
//	x/<two runes>\x00<convID:16>          search index: two-letter prefix -> postings
var (
	keySchema     = []byte("s")
	prefixConv    = []byte("c/")
	prefixRecent  = []byte("r/")
	prefixMsg     = []byte("m/")
	prefixDeleted = []byte("d/")
	prefixPreset  = []byte("p/")
)

func convKey(id ID) []byte { return append(append([]byte{}, prefixConv...), id[:]...) }

func deletedKey(id ID) []byte { return append(append([]byte{}, prefixDeleted...), id[:]...) }

func recentKey(c *Conversation) []byte {
	k := make([]byte, 0, len(prefixRecent)+1+8+16)
	k = append(k, prefixRecent...)
	if c.Pinned {
		k = append(k, 0)
	} else {
		k = append(k, 1)
	}
	k = binary.BigEndian.AppendUint64(k, ^uint64(timeKey(c.Updated)))
	return append(k, c.ID[:]...)
}

// timeKey maps a time to an unsigned value that orders like the time (for
// dates after 1970, which is all a chat history holds).
func timeKey(t time.Time) int64 {
	if t.IsZero() || t.UnixNano() < 0 {
		return 0
	}
	return t.UnixNano()
}

func idFromRecentKey(k []byte) (ID, bool) {
	var id ID
	if len(k) != len(prefixRecent)+1+8+16 {
		return id, false
	}
	copy(id[:], k[len(k)-16:])
	return id, true
}

func msgPrefix(id ID) []byte { return append(append([]byte{}, prefixMsg...), id[:]...) }

func msgKey(id ID, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(msgPrefix(id), seq)
}

// parseMsgKey splits m/<convID><seq>.
func parseMsgKey(k []byte) (ID, uint64, bool) {
	var id ID
	if len(k) != len(prefixMsg)+16+8 {
		return id, 0, false
	}
	copy(id[:], k[len(prefixMsg):])
	return id, binary.BigEndian.Uint64(k[len(k)-8:]), true
}

func presetKey(model, name string) []byte {
	k := append([]byte{}, prefixPreset...)
	k = append(k, model...)
	k = append(k, 0)
	return append(k, name...)
}

func presetModelPrefix(model string) []byte {
	k := append([]byte{}, prefixPreset...)
	k = append(k, model...)
	return append(k, 0)
}
