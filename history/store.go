package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

var (
	// ErrLocked means another process (usually another copy of the app) has
	// the database open. The app should focus that instance instead.
	ErrLocked = errors.New("the chat history is in use by another SmallThinker instance")
	// ErrCorrupt means the database or one of its records cannot be read. The
	// data is left untouched; MoveAside sets it aside so the app can start fresh.
	ErrCorrupt = errors.New("the chat history database is damaged or unreadable")
	// ErrNewerSchema means the database was written by a newer version of the
	// app. It is not touched.
	ErrNewerSchema = errors.New("the chat history was written by a newer version of SmallThinker")
	// ErrClosed is returned by every operation after Close.
	ErrClosed = errors.New("the chat history is closed")
	// ErrNotFound means no conversation (or message, or preset) has that key.
	ErrNotFound = errors.New("not found")
)

// SchemaVersion is the key layout and record format this build writes.
const SchemaVersion = 3

// Store is the conversation history: one Badger database per user profile.
// It is safe for concurrent use.
type Store struct {
	db  *badger.DB
	dir string

	mu     sync.RWMutex // held for reading by every operation, for writing by Close
	closed bool

	gcOnce sync.Once
	gcStop chan struct{}
	gcDone chan struct{}

	now func() time.Time // the clock; tests replace it
	// checkpointEvery is the minimum gap between streaming checkpoints.
	checkpointEvery time.Duration
}

// Options tune Open; the zero value is right for the app.
type Options struct {
	// InMemory keeps everything in RAM (tests); dir is ignored.
	InMemory bool
	// GCInterval is how often value-log GC runs in the background (default
	// 10 min; negative disables it).
	GCInterval time.Duration
	// Logger receives Badger's warnings and errors (default: discarded).
	Logger badger.Logger
}

// DefaultDir is where the app keeps its history: <user config dir>/smallthinker/history.
func DefaultDir() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("locating the history directory: %w", err)
	}
	return filepath.Join(base, "smallthinker", "history"), nil
}

// Open opens (creating if needed) the history in dir with the app's options.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// badgerOptions sizes Badger for a desktop app: the history is megabytes and
// shares RAM with the model (spec desktop.md §5.2).
func badgerOptions(dir string, o Options) badger.Options {
	opts := badger.DefaultOptions(dir).
		WithMemTableSize(16 << 20). // the WAL file is 2x this
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBaseTableSize(2 << 20).
		WithBlockSize(16 << 10). // amortizes ZSTD setup over more records (search reads runs of them)
		WithValueLogFileSize(32 << 20).
		WithNumCompactors(2).
		WithCompression(options.ZSTD).
		WithZSTDCompressionLevel(1).
		WithBlockCacheSize(16 << 20). // must be > 0 with compression
		WithIndexCacheSize(0).
		WithChecksumVerificationMode(options.OnBlockRead). // damaged blocks give errors, not garbage
		WithSyncWrites(true).                              // a saved message survives a power cut too
		WithMetricsEnabled(false).
		WithDetectConflicts(true)
	if o.Logger != nil {
		opts = opts.WithLogger(o.Logger)
	} else {
		opts = opts.WithLogger(quietLogger{})
	}
	if o.InMemory {
		opts = opts.WithDir("").WithValueDir("").WithInMemory(true)
	}
	return opts
}

// OpenWith is Open with explicit options.
func OpenWith(dir string, o Options) (*Store, error) {
	if !o.InMemory {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the history directory: %w", err)
		}
	}
	if !o.InMemory {
		err := withDirLock(dir, func() error { return checkTables(dir) })
		switch {
		case errors.Is(err, errHeld):
			return nil, lockedError(dir)
		case err != nil:
			return nil, fmt.Errorf("%w (%s): %v", ErrCorrupt, dir, err)
		}
	}
	db, err := openBadger(badgerOptions(dir, o))
	if err != nil {
		if isLockError(err) {
			return nil, lockedError(dir)
		}
		return nil, fmt.Errorf("%w (%s): %v", ErrCorrupt, dir, err)
	}
	s := &Store{db: db, dir: dir, now: time.Now, checkpointEvery: 2 * time.Second}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.finishDeletions(); err != nil {
		db.Close()
		return nil, err
	}
	interval := o.GCInterval
	if interval == 0 {
		interval = 10 * time.Minute
	}
	if interval > 0 && !o.InMemory {
		s.gcStop = make(chan struct{})
		s.gcDone = make(chan struct{})
		go s.gcLoop(interval)
	}
	return s, nil
}

// openBadger turns a panic inside Badger (seen with damaged files) into an error.
func openBadger(opts badger.Options) (db *badger.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("badger panicked while opening: %v", r)
		}
	}()
	return badger.Open(opts)
}

// checkTables reads every table's index before Badger does: Badger opens
// tables on its own goroutines, where a damaged index panics and takes the
// whole app down instead of returning an error. Block contents are checked
// by Verify.
func checkTables(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		return err
	}
	for i, path := range files {
		if err := checkTableFile(path, uint64(i)); err != nil {
			return fmt.Errorf("table %s: %v", filepath.Base(path), err)
		}
	}
	return nil
}

// checkTableFile maps the file read-only, so only the pages the index
// check touches are read.
func checkTableFile(path string, id uint64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < 8 {
		return errors.New("truncated")
	}
	data, err := z.Mmap(f, false, fi.Size())
	if err != nil {
		return err
	}
	defer z.Munmap(data)
	return checkTable(data, id)
}

func checkTable(data []byte, id uint64) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged table index")
		}
	}()
	if len(data) < 8 {
		return errors.New("truncated")
	}
	opts := table.Options{BlockSize: 16 << 10, Compression: options.ZSTD, ChkMode: options.OnBlockRead}
	// An in-memory table over a copy of the bytes: nothing refers to the file.
	_, err = table.OpenInMemoryTable(data, id, &opts)
	return err
}

// Verify checks every block of every table against its checksum (about a
// second per 50 MB of history). Badger's iterators stop silently at a
// damaged block, which would look like missing conversations, so the app
// should run this at idle and report ErrCorrupt instead.
func (s *Store) Verify() (err error) {
	done, err := s.use()
	if err != nil {
		return err
	}
	defer done()
	defer func() {
		// Badger v4.9.6 dereferences a nil block while reporting a bad
		// checksum; the panic itself means damage.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: a table block fails its checksum (%v)", ErrCorrupt, r)
		}
	}()
	if err := s.db.VerifyChecksum(); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

func lockedError(dir string) error {
	if pid, ok := LockHolder(dir); ok {
		return fmt.Errorf("%w (process %d holds %s)", ErrLocked, pid, dir)
	}
	return fmt.Errorf("%w (%s is locked)", ErrLocked, dir)
}

func isLockError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Another process is using this Badger database") ||
		strings.Contains(msg, "Cannot acquire directory lock")
}

// LockHolder reads the process id Badger records in dir/LOCK.
func LockHolder(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "LOCK"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

// MoveAside renames a damaged history directory to "<dir>.damaged-<time>" so
// a fresh one can be created, and returns the new name. Nothing is deleted.
func MoveAside(dir string) (string, error) {
	dir = filepath.Clean(dir)
	dst := dir + ".damaged-" + time.Now().Format("20060102-150405")
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s.damaged-%s-%d", dir, time.Now().Format("20060102-150405"), i)
	}
	if err := os.Rename(dir, dst); err != nil {
		return "", fmt.Errorf("moving the damaged history aside: %w", err)
	}
	return dst, nil
}

// Dir is the directory the store lives in ("" in memory).
func (s *Store) Dir() string { return s.dir }

// Close stops background work and closes the database. It is safe to call
// more than once; later calls and later operations return ErrClosed.
func (s *Store) Close() error {
	if s.gcStop != nil {
		s.gcOnce.Do(func() { close(s.gcStop) })
		<-s.gcDone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	return s.db.Close()
}

// use guards an operation against a concurrent Close.
func (s *Store) use() (func(), error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	return s.mu.RUnlock, nil
}

func (s *Store) gcLoop(interval time.Duration) {
	defer close(s.gcDone)
	first := time.NewTimer(30 * time.Second) // let startup finish first
	defer first.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-first.C:
		case <-tick.C:
		}
		s.CollectGarbage()
	}
}

// CollectGarbage runs Badger's value-log GC until it has nothing to rewrite.
// It is heavy; call it off the UI goroutine, at idle.
func (s *Store) CollectGarbage() {
	done, err := s.use()
	if err != nil {
		return
	}
	defer done()
	for i := 0; i < 16 && s.db.RunValueLogGC(0.5) == nil; i++ {
	}
}

// update runs fn in a read-write transaction, retrying on conflicts with
// other writers.
func (s *Store) update(fn func(txn *badger.Txn) error) error {
	done, err := s.use()
	if err != nil {
		return err
	}
	defer done()
	for attempt := 0; ; attempt++ {
		err := s.db.Update(fn)
		if errors.Is(err, badger.ErrConflict) && attempt < 50 {
			continue
		}
		return err
	}
}

func (s *Store) view(fn func(txn *badger.Txn) error) error {
	done, err := s.use()
	if err != nil {
		return err
	}
	defer done()
	return s.db.View(fn)
}

// migrations[v] upgrades a database at schema v to v+1.
var migrations = map[uint32]func(s *Store) error{
	1: rebuildIndex,    // word positions in the search index
	2: buildShortIndex, // the two-letter prefix index
}

// currentSchema is SchemaVersion; a variable so tests can exercise migrations.
var currentSchema uint32 = SchemaVersion

func (s *Store) schema() (uint32, bool, error) {
	var v uint32
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keySchema)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			if len(b) != 4 {
				return fmt.Errorf("%w: schema key has %d bytes", ErrCorrupt, len(b))
			}
			v, found = binary.BigEndian.Uint32(b), true
			return nil
		})
	})
	return v, found, err
}

func (s *Store) setSchema(v uint32) error {
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(keySchema, binary.BigEndian.AppendUint32(nil, v))
	})
}

func (s *Store) migrate() error {
	v, found, err := s.schema()
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if !found {
		empty := true
		s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{})
			defer it.Close()
			it.Rewind()
			empty = !it.Valid()
			return nil
		})
		if !empty {
			return fmt.Errorf("%w: the database has data but no schema version", ErrCorrupt)
		}
		return s.setSchema(currentSchema)
	}
	if v > currentSchema {
		return fmt.Errorf("%w (schema %d, this build knows %d)", ErrNewerSchema, v, currentSchema)
	}
	for v < currentSchema {
		m, ok := migrations[v]
		if !ok {
			return fmt.Errorf("no migration from schema %d to %d", v, v+1)
		}
		if err := m(s); err != nil {
			return fmt.Errorf("migrating the history from schema %d to %d: %w", v, v+1, err)
		}
		v++
		if err := s.setSchema(v); err != nil {
			return err
		}
	}
	return nil
}

// quietLogger keeps Badger's chatter (including tuning warnings such as
// "block cache might be too small") off the terminal but keeps errors visible.
type quietLogger struct{}

func (quietLogger) Errorf(f string, a ...any) { log.Printf("history: badger: "+f, a...) }
func (quietLogger) Warningf(string, ...any)   {}
func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Debugf(string, ...any)     {}
