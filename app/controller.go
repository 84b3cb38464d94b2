package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"smallthinker/history"
	"smallthinker/inference"
	"smallthinker/ui"
)

// View is what the controller shows; *ui.Main implements it. Every call
// happens on the UI goroutine.
type View interface {
	SetConversations(convs []ui.Conversation, selected string, searching bool)
	SetSearchBusy(busy bool)
	SetMessages(msgs []ui.Message)
	UpdateMessage(i int, m ui.Message)
	SetGenerating(on bool)
	SetStatus(text string, warn bool)
	SetModels(choices []ui.ModelChoice, selected string)
	SetLoading(text string)
	SetBudget(b ui.Budget)
	SetSettings(s ui.Settings)
	ShowError(err error)
	ShowInfo(title, text string)
}

// Controller is the conductor: it answers the window's actions, runs model
// loads, generations, searches and history writes on their own goroutines,
// and reports back through post (fyne.Do in the app), which runs a function
// on the UI goroutine. Its fields are only touched on the UI goroutine,
// except where a comment says otherwise.
type Controller struct {
	view   View
	post   func(func())
	store  *history.Store
	engine Engine
	paths  Paths
	// redrawEvery is the streaming redraw interval (≤ 30 Hz).
	redrawEvery time.Duration

	jobs    chan func() // history and file work, run in order on one goroutine
	wg      sync.WaitGroup
	closing bool

	cfg      Config
	conv     history.ID
	msgs     []history.Message
	query    string
	queryGen int

	models    []modelChoice
	modelPath string // selected (loading or loaded)
	model     Model
	loadGen   int
	session   Session
	gen       *generation

	budgetMu  sync.Mutex   // serialises budget changes on the engine
	budgetGen atomic.Int64 // the latest budget request; older ones are skipped
}

// generation is one streaming reply. Fields under mu are written by the
// engine goroutine and read by the redraw ticker.
type generation struct {
	conv   history.ID // zero until a new chat is stored; then only touched on the UI goroutine
	index  int        // the reply's index in msgs
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	text  strings.Builder
	stats inference.Stats
	dirty bool
}

func (g *generation) snapshot() (string, inference.Stats, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dirty
	g.dirty = false
	return g.text.String(), g.stats, d
}

// NewController wires a view to the store and engine. post must run its
// function on the UI goroutine. Call Start once the view exists.
func NewController(view View, post func(func()), store *history.Store, engine Engine, paths Paths, cfg Config) *Controller {
	c := &Controller{
		view: view, post: post, store: store, engine: engine, paths: paths, cfg: cfg,
		redrawEvery: time.Second / 30,
		jobs:        make(chan func(), 64),
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for f := range c.jobs {
			f()
		}
	}()
	return c
}

// Start shows the saved settings, the conversation list, the last
// conversation and loads the last model, all without blocking.
func (c *Controller) Start() {
	c.view.SetSettings(c.cfg.Settings)
	c.refreshList()
	if id, err := history.ParseID(c.cfg.LastConversation); err == nil {
		c.SelectConversation(id.String())
	} else {
		c.view.SetMessages(nil)
	}
	c.refreshModels(true)
}

// Close stops any generation, waits for background work and unloads the
// model. The store is the caller's to close afterwards.
func (c *Controller) Close() {
	if c.closing {
		return
	}
	c.closing = true
	c.stopGeneration()
	cfg := c.cfg
	c.jobs <- func() { cfg.Save(c.paths.Settings) }
	close(c.jobs)
	c.wg.Wait()
	if c.model != nil {
		c.model.Close()
		c.model = nil
	}
}

// do queues history/file work; then runs on the UI goroutine.
func (c *Controller) do(work func()) {
	if c.closing {
		return
	}
	c.jobs <- work
}

// goAsync runs f on its own goroutine, tracked for Close.
func (c *Controller) goAsync(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

func (c *Controller) saveConfig() {
	cfg := c.cfg
	cfg.Budgets = make(map[string]int64, len(c.cfg.Budgets))
	for k, v := range c.cfg.Budgets {
		cfg.Budgets[k] = v
	}
	c.do(func() {
		if err := cfg.Save(c.paths.Settings); err != nil {
			c.post(func() { c.view.ShowError(fmt.Errorf("saving settings: %w", err)) })
		}
	})
}

func (c *Controller) fail(err error) {
	if err != nil {
		c.post(func() { c.view.ShowError(err) })
	}
}

// ---- conversations ----

func (c *Controller) refreshList() {
	if c.query != "" {
		c.Search(c.query)
		return
	}
	c.do(func() {
		convs, err := c.store.List(0, 0)
		if err != nil {
			c.fail(fmt.Errorf("reading the chat list: %w", err))
			return
		}
		c.post(func() {
			if c.query == "" {
				c.view.SetConversations(toUIConversations(convs), idString(c.conv), false)
			}
		})
	})
}

func idString(id history.ID) string {
	if id.IsZero() {
		return ""
	}
	return id.String()
}

func toUIConversations(convs []history.Conversation) []ui.Conversation {
	out := make([]ui.Conversation, len(convs))
	for i, cv := range convs {
		out[i] = ui.Conversation{ID: cv.ID.String(), Title: cv.DisplayTitle(), Pinned: cv.Pinned, Updated: cv.Updated}
	}
	return out
}

// NewChat starts an empty chat; it is stored when its first message is sent.
func (c *Controller) NewChat() {
	c.Stop()
	c.conv = history.ID{}
	c.msgs = nil
	c.session = nil
	c.view.SetMessages(nil)
	c.view.SetStatus("", false)
	c.refreshList()
	c.cfg.LastConversation = ""
	c.saveConfig()
}

// SelectConversation shows a stored conversation.
func (c *Controller) SelectConversation(id string) {
	cid, err := history.ParseID(id)
	if err != nil {
		c.view.ShowError(err)
		return
	}
	c.Stop() // the reply is saved as stopped; its goroutine ends on its own
	c.do(func() {
		msgs, err := c.store.Messages(cid)
		if errors.Is(err, history.ErrNotFound) {
			c.post(func() { c.NewChat() })
			return
		}
		if err != nil {
			c.fail(fmt.Errorf("opening the chat: %w", err))
			return
		}
		c.post(func() {
			c.conv, c.msgs, c.session = cid, msgs, nil
			c.view.SetMessages(c.uiMessages())
			c.view.SetStatus("", false)
			c.refreshList()
			c.cfg.LastConversation = cid.String()
			c.saveConfig()
		})
	})
}

// Search filters the sidebar by title and message text.
func (c *Controller) Search(query string) {
	c.query = strings.TrimSpace(query)
	c.queryGen++
	gen := c.queryGen
	if c.query == "" {
		c.view.SetSearchBusy(false)
		c.refreshList()
		return
	}
	c.view.SetSearchBusy(true)
	q := c.query
	c.do(func() {
		hits, err := c.store.Search(q, 500)
		c.post(func() {
			if gen != c.queryGen {
				return // a newer query is under way
			}
			c.view.SetSearchBusy(false)
			if err != nil {
				c.view.ShowError(fmt.Errorf("searching: %w", err))
				return
			}
			c.view.SetConversations(groupHits(hits), idString(c.conv), true)
		})
	})
}

// groupHits keeps one row per conversation, with its first match's snippet.
func groupHits(hits []history.SearchHit) []ui.Conversation {
	var out []ui.Conversation
	seen := map[history.ID]bool{}
	for _, h := range hits {
		if seen[h.ConvID] {
			continue
		}
		seen[h.ConvID] = true
		snip := h.Snippet
		if h.InTitle {
			snip = ""
		}
		out = append(out, ui.Conversation{ID: h.ConvID.String(), Title: h.Title, Updated: h.Updated, Snippet: snip})
	}
	return out
}

// Rename sets a conversation's title.
func (c *Controller) Rename(id, title string) {
	cid, err := history.ParseID(id)
	if err != nil {
		return
	}
	c.do(func() {
		if err := c.store.Rename(cid, title); err != nil {
			c.fail(fmt.Errorf("renaming: %w", err))
		}
		c.post(c.refreshList)
	})
}

// SetPinned pins or unpins a conversation.
func (c *Controller) SetPinned(id string, pinned bool) {
	cid, err := history.ParseID(id)
	if err != nil {
		return
	}
	c.do(func() {
		if err := c.store.Pin(cid, pinned); err != nil {
			c.fail(fmt.Errorf("pinning: %w", err))
		}
		c.post(c.refreshList)
	})
}

// Delete removes a conversation (the window has asked for confirmation).
func (c *Controller) Delete(id string) {
	cid, err := history.ParseID(id)
	if err != nil {
		return
	}
	if cid == c.conv {
		c.NewChat()
	}
	c.do(func() {
		if err := c.store.Delete(cid); err != nil {
			c.fail(fmt.Errorf("deleting: %w", err))
		}
		c.post(c.refreshList)
	})
}

// ---- generation ----

// Send appends the user's message and streams a reply.
func (c *Controller) Send(text string) { c.generate(len(c.msgs), &text) }

// Regenerate replaces the last reply with a new one.
func (c *Controller) Regenerate() {
	n := len(c.msgs)
	if n == 0 || c.msgs[n-1].Role != history.RoleAssistant {
		return
	}
	c.generate(n-1, nil)
}

// EditAndResend replaces user message i (and everything after it) and
// streams a new reply.
func (c *Controller) EditAndResend(i int, text string) {
	if i < 0 || i >= len(c.msgs) || c.msgs[i].Role != history.RoleUser {
		return
	}
	c.generate(i, &text)
}

// Stop cancels the running generation; the partial reply is kept.
func (c *Controller) Stop() {
	if c.gen != nil {
		c.gen.cancel()
	}
}

// stopGeneration cancels the running generation and waits for it to end
// (only at shutdown: elsewhere the UI goroutine never waits on the engine).
func (c *Controller) stopGeneration() {
	if done := c.cancelGeneration(); done != nil {
		<-done
	}
}

// cancelGeneration cancels the running generation and returns the channel
// closed when it has ended (nil if none runs).
func (c *Controller) cancelGeneration() <-chan struct{} {
	g := c.gen
	if g == nil {
		return nil
	}
	g.cancel()
	return g.done
}

func (c *Controller) samplerOptions() inference.GenerateOptions {
	s := c.cfg.Settings
	sc := inference.DefaultSampler()
	sc.Temperature = float32(s.Temperature)
	sc.Greedy = s.Temperature == 0
	sc.TopK = s.TopK
	sc.TopP = float32(s.TopP)
	sc.RepetitionPenalty = float32(s.RepetitionPenalty)
	sc.Seed = uint64(time.Now().UnixNano())
	return inference.GenerateOptions{MaxTokens: s.MaxTokens, Sampler: sc}
}

// generate keeps the first keep messages, appends userText (if any) and
// streams a reply: history first, then the view, then the engine.
func (c *Controller) generate(keep int, userText *string) {
	if c.gen != nil || c.closing {
		return
	}
	if c.model == nil {
		if c.modelPath != "" {
			c.view.ShowInfo("Model loading", "The model is still loading; send again in a moment.")
		} else {
			c.view.ShowInfo("No model", "Choose a model on the right first.")
		}
		return
	}
	if c.session == nil {
		c.session = c.model.NewSession(c.cfg.Settings.ContextLength)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &generation{conv: c.conv, cancel: cancel, done: make(chan struct{})}
	c.gen = g
	c.view.SetGenerating(true)
	c.view.SetStatus("Reading the prompt…", false)

	prior := append([]history.Message(nil), c.msgs[:keep]...)
	truncate := keep < len(c.msgs)
	var truncSeq uint64 = math.MaxUint64 // "after MaxUint64" wraps to "from 0": delete all
	if keep > 0 {
		truncSeq = prior[keep-1].Seq
	}
	settings := c.cfg.Settings
	modelName := c.modelName()
	session := c.session
	opts := c.samplerOptions()

	c.goAsync(func() {
		defer close(g.done)
		defer cancel()
		conv := g.conv
		var err error
		if conv.IsZero() {
			var cv history.Conversation
			cv, err = c.store.CreateConversation(history.Conversation{
				Model: modelName, SystemPrompt: settings.SystemPrompt, Sampling: toSampling(settings)})
			conv = cv.ID
		}
		if err == nil && truncate {
			err = c.store.TruncateAfter(conv, truncSeq)
		}
		msgs := prior
		if err == nil && userText != nil {
			var um history.Message
			um, err = c.store.AppendMessage(conv, history.Message{Role: history.RoleUser, Text: *userText})
			msgs = append(msgs, um)
		}
		var reply *history.Reply
		if err == nil {
			reply, err = c.store.BeginReply(conv, modelName)
		}
		if err != nil {
			c.post(func() {
				c.gen = nil
				c.view.SetGenerating(false)
				c.view.SetStatus("", false)
				c.view.ShowError(fmt.Errorf("saving the message: %w", err))
			})
			return
		}
		shown := append(append([]history.Message(nil), msgs...), reply.Message())
		c.post(func() {
			g.index = len(shown) - 1
			stillHere := c.conv == g.conv // the user may have switched chats meanwhile
			g.conv = conv
			if stillHere {
				appended := len(c.msgs) == keep // a plain send: only new rows to draw
				c.conv, c.msgs = conv, shown
				if appended {
					all := c.uiMessages()
					for i := keep; i < len(all); i++ {
						c.view.UpdateMessage(i, all[i])
					}
				} else {
					c.view.SetMessages(c.uiMessages())
				}
				if c.cfg.LastConversation != conv.String() {
					c.cfg.LastConversation = conv.String()
					c.saveConfig()
				}
			}
			c.refreshList()
		})

		req := make([]inference.Message, 0, len(msgs)+1)
		if settings.SystemPrompt != "" {
			req = append(req, inference.Message{Role: inference.RoleSystem, Content: settings.SystemPrompt})
		}
		for _, m := range msgs {
			req = append(req, inference.Message{Role: m.Role, Content: m.Text})
		}

		stopRedraw := make(chan struct{})
		redrawDone := make(chan struct{})
		go c.redrawLoop(g, reply, stopRedraw, redrawDone)
		res, genErr := session.Chat(ctx, req, opts, func(p inference.Piece) {
			g.mu.Lock()
			g.text.WriteString(p.Text)
			g.stats = p.Stats
			g.dirty = true
			g.mu.Unlock()
		})
		close(stopRedraw)
		<-redrawDone

		text, stats, _ := g.snapshot()
		if res.Text != "" {
			text = res.Text
		}
		if res.Stats.ContextSize > 0 {
			stats = res.Stats
		}
		reason := string(res.Reason)
		if genErr != nil && reason == "" {
			reason = string(inference.StopError)
		}
		final, saveErr := reply.Finish(text, "", toHistoryStats(stats), reason)
		c.post(func() {
			if c.gen == g {
				c.gen = nil
			}
			if c.conv == conv && g.index < len(c.msgs) {
				c.msgs[g.index] = final
				um := toUIMessage(final)
				if genErr != nil {
					um.Error = genErr.Error()
				}
				c.view.UpdateMessage(g.index, um)
			}
			c.view.SetGenerating(c.gen != nil)
			if c.conv == conv {
				status, warn := liveStatus(stats, false)
				c.view.SetStatus(status, warn)
			}
			if saveErr != nil {
				c.view.ShowError(fmt.Errorf("saving the reply: %w", saveErr))
			}
			c.refreshList()
		})
	})
}

// redrawLoop pushes the growing reply to the view at most every
// redrawEvery, and hands it to the history writer (which checkpoints it
// every ~2 s).
func (c *Controller) redrawLoop(g *generation, reply *history.Reply, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(c.redrawEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		text, stats, dirty := g.snapshot()
		if !dirty {
			continue
		}
		reply.Update(text, "", toHistoryStats(stats)) // a failed checkpoint is retried by the next one
		c.post(func() {
			if c.gen != g || c.conv != g.conv || g.index >= len(c.msgs) {
				return
			}
			m := c.msgs[g.index]
			m.Text = text
			um := toUIMessage(m)
			um.Streaming = true
			um.Status = ""
			c.view.UpdateMessage(g.index, um)
			status, warn := liveStatus(stats, true)
			c.view.SetStatus(status, warn)
		})
	}
}

func toSampling(s ui.Settings) history.Sampling {
	return history.Sampling{
		Greedy: s.Temperature == 0, Temperature: float32(s.Temperature), TopK: s.TopK, TopP: float32(s.TopP),
		RepetitionPenalty: float32(s.RepetitionPenalty), MaxTokens: s.MaxTokens, ContextLength: s.ContextLength,
	}
}

func toHistoryStats(s inference.Stats) history.Stats {
	return history.Stats{
		PromptTokens: s.PromptTokens, CachedTokens: s.CachedTokens, GeneratedTokens: s.GeneratedTokens,
		TimeToFirstToken: s.TimeToFirst, PrefillTokPerSec: s.PrefillTokS, TokPerSec: s.DecodeTokS,
		CacheHitRate: s.CacheHitRate,
	}
}

func (c *Controller) uiMessages() []ui.Message {
	out := make([]ui.Message, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = toUIMessage(m)
		if c.gen != nil && i == c.gen.index && m.Incomplete {
			out[i].Streaming = true
		}
	}
	return out
}

func toUIMessage(m history.Message) ui.Message {
	um := ui.Message{
		ID:       fmt.Sprintf("%s/%d", m.ConvID, m.Seq),
		Role:     m.Role,
		Content:  m.Text,
		Thinking: m.Thinking,
		Stopped:  m.StopReason == string(inference.StopCancelled),
	}
	if m.Role == history.RoleAssistant {
		um.Status = replyStatus(m)
	}
	return um
}

// replyStatus is the stats line kept under a finished reply.
func replyStatus(m history.Message) string {
	if m.Incomplete {
		return "Interrupted: the app closed while this reply was being written"
	}
	s := m.Stats
	var parts []string
	if s.GeneratedTokens > 0 {
		parts = append(parts, fmt.Sprintf("%d tokens", s.GeneratedTokens))
	}
	if s.TokPerSec > 0 {
		parts = append(parts, fmt.Sprintf("%.1f tok/s", s.TokPerSec))
	}
	if s.TimeToFirstToken > 0 {
		parts = append(parts, fmt.Sprintf("first token %.2f s", s.TimeToFirstToken.Seconds()))
	}
	if s.CacheHitRate > 0 {
		parts = append(parts, fmt.Sprintf("expert cache %.0f%% hits", 100*s.CacheHitRate))
	}
	switch inference.StopReason(m.StopReason) {
	case inference.StopMaxTokens:
		parts = append(parts, "token limit reached")
	case inference.StopContextFull:
		parts = append(parts, "context full")
	case inference.StopError:
		parts = append(parts, "failed")
	}
	if m.Model != "" {
		parts = append(parts, m.Model)
	}
	return strings.Join(parts, " · ")
}

// contextWarn is the fill level at which the status line warns.
const contextWarn = 0.85

// liveStatus is the status line while generating (and after).
func liveStatus(s inference.Stats, running bool) (string, bool) {
	var parts []string
	if running && s.GeneratedTokens == 0 {
		parts = append(parts, "Reading the prompt…")
	}
	if s.DecodeTokS > 0 {
		parts = append(parts, fmt.Sprintf("%.1f tok/s", s.DecodeTokS))
	}
	if s.TimeToFirst > 0 {
		parts = append(parts, fmt.Sprintf("first token %.2f s", s.TimeToFirst.Seconds()))
	}
	switch {
	case s.CacheHitRate > 0 || s.SSDBytesRead > 0:
		parts = append(parts, fmt.Sprintf("expert cache %.0f%% hits", 100*s.CacheHitRate))
	case s.GeneratedTokens > 0:
		// No cache lookups and no reads: every expert is resident (the
		// engine then reports a zero hit rate, which would read as "all misses").
		parts = append(parts, "all experts in RAM")
	}
	if s.SSDMBs > 0 {
		parts = append(parts, fmt.Sprintf("SSD %.0f MB/s", s.SSDMBs))
	}
	warn := false
	if s.ContextSize > 0 {
		parts = append(parts, fmt.Sprintf("context %d / %d", s.ContextUsed, s.ContextSize))
		if float64(s.ContextUsed) >= contextWarn*float64(s.ContextSize) {
			warn = true
			parts = append(parts, "context almost full: start a new chat soon")
		}
	}
	return strings.Join(parts, " · "), warn
}
