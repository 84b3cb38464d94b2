package history

import (
	zipf "math/rand"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The benchmark history: 2,000 conversations × 50 messages, short user
// questions and longer replies drawn from a vocabulary, about 45 MB of text.
const (
	benchConvs    = 2000
	benchMessages = 50
)

var (
	benchOnce  sync.Once
	benchStore *Store
	benchDir   string
	benchErr   error
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	code := m.Run()
	if benchStore != nil {
		benchStore.Close()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

var benchWords = strings.Fields(`the a of to and in is it that for you with on this be are as can
use not or your have function model token memory expert cache layer query value thread kernel
router budget prefill decode context window history message search index badger sparse mixture
attention matrix vector quantize block weight tensor file disk read write stream reply user
assistant system prompt temperature sampling greedy python golang rust error return loop string
bytes slice map channel goroutine mutex benchmark profile latency throughput compile build test
résumé naïve Straße Ελληνικά данные 東京 数据`)

// benchVocab is benchWords followed by synthetic words; benchText draws
// from it with a Zipf distribution, as natural text does, so a few words are
// everywhere and most are rare.
var benchVocab = func() []string {
	v := append([]string{}, benchWords...)
	syl := strings.Fields("ka ri mo te sun lo ver pa qui dex tor an bel chi fo gra")
	for i := 0; len(v) < 20000; i++ {
		w := ""
		for n := i; ; n /= len(syl) {
			w += syl[n%len(syl)]
			if n < len(syl) {
				break
			}
		}
		v = append(v, w)
	}
	return v
}()

func benchText(r *rand.Rand, z *zipf.Zipf, words int) string {
	var b strings.Builder
	for i := 0; i < words; i++ {
		if i > 0 {
			if r.IntN(12) == 0 {
				b.WriteString(".\n")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(benchVocab[z.Uint64()])
	}
	return b.String()
}

// fillBench writes the benchmark history directly with write batches.
func fillBench(s *Store, convs, perConv int) error {
	r := rand.New(rand.NewPCG(1, 2))
	z := zipf.NewZipf(zipf.New(zipf.NewSource(3)), 1.1, 2, uint64(len(benchVocab)-1))
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	var f folder
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < convs; i++ {
		created := t0.Add(time.Duration(i) * time.Hour)
		c := Conversation{ID: NewID(created), Created: created, Model: "smallthinker-4b", Sampling: Sampling{Temperature: 0.6, TopK: 20, TopP: 0.95}}
		var msgs []Message
		for j := 0; j < perConv; j++ {
			m := Message{Seq: uint64(j), Role: RoleUser, Created: created.Add(time.Duration(j) * time.Minute), Text: benchText(r, z, 10+r.IntN(30))}
			if j%2 == 1 {
				m.Role, m.Model = RoleAssistant, "smallthinker-4b"
				m.Text = benchText(r, z, 60+r.IntN(120))
				m.Stats = Stats{PromptTokens: 40, GeneratedTokens: 150, TokPerSec: 12.5, CacheHitRate: 0.9}
			}
			if j == 0 {
				c.Title = AutoTitle(m.Text)
			}
			if err := wb.Set(msgKey(c.ID, uint64(j)), encodeMessage(&m)); err != nil {
				return err
			}
			msgs = append(msgs, m)
			c.Updated = m.Created
		}
		c.nextSeq, c.MessageCount = uint64(perConv), perConv
		if err := wb.Set(convKey(c.ID), encodeConversation(&c)); err != nil {
			return err
		}
		if err := putConvIndex(wb, c.ID, convPostings(&f, c.Title, msgs)); err != nil {
			return err
		}
		if err := wb.Set(recentKey(&c), nil); err != nil {
			return err
		}
	}
	return wb.Flush()
}

func openBench(b *testing.B) *Store {
	benchOnce.Do(func() {
		// HISTORY_BENCH_DIR keeps the filled database between runs.
		dir, keep := os.LookupEnv("HISTORY_BENCH_DIR")
		if !keep {
			if dir, benchErr = os.MkdirTemp("", "history-bench-"); benchErr != nil {
				return
			}
			benchDir = dir
		}
		_, statErr := os.Stat(filepath.Join(dir, "MANIFEST"))
		benchStore, benchErr = OpenWith(dir, Options{GCInterval: -1})
		if benchErr != nil || statErr == nil {
			return
		}
		start := time.Now()
		benchErr = fillBench(benchStore, benchConvs, benchMessages)
		b.Logf("filled %d×%d messages in %v", benchConvs, benchMessages, time.Since(start))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

func BenchmarkList50(b *testing.B) {
	s := openBench(b)
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		cs, err := s.List(0, 50)
		if err != nil || len(cs) != 50 {
			b.Fatalf("List: %d, %v", len(cs), err)
		}
	}
	reportCPU(b, cpu)
}

// reportCPU adds CPU ms per operation (all goroutines, including Badger's).
func reportCPU(b *testing.B, start time.Duration) {
	if c := processCPU(); c > 0 {
		b.ReportMetric(float64(c-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

func BenchmarkSearch(b *testing.B) {
	s := openBench(b)
	for _, q := range []string{"expert cache", "goroutine mutex latency", "straße", "kariqui", "the", "ca", "an", "a", `"token memory"`, `"of the"`, `"token an"`, `"expert cache" layer`, "zzznotthere", "all:kariqui", "all:expert cache"} {
		b.Run(q, func(b *testing.B) {
			query, limit := q, 100
			if strings.HasPrefix(q, "all:") { // every hit, as the CLI's --limit 0
				query, limit = q[4:], 0
			}
			cpu := processCPU()
			hits := 0
			for i := 0; i < b.N; i++ {
				h, err := s.Search(query, limit)
				if err != nil {
					b.Fatal(err)
				}
				hits = len(h)
			}
			reportCPU(b, cpu)
			b.ReportMetric(float64(hits), "hits")
		})
	}
}

// BenchmarkAppendMessage measures one synchronous, indexed append on disk:
// what the user waits for between pressing Send and the message being safe.
func BenchmarkAppendMessage(b *testing.B) {
	s, err := OpenWith(b.TempDir(), Options{GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, _ := s.CreateConversation(Conversation{})
	r := rand.New(rand.NewPCG(5, 6))
	z := zipf.NewZipf(zipf.New(zipf.NewSource(7)), 1.1, 2, uint64(len(benchVocab)-1))
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = benchText(r, z, 120)
	}
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		if _, err := s.AppendMessage(c.ID, Message{Role: RoleAssistant, Text: texts[i%len(texts)]}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}
