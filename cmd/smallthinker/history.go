package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"smallthinker/history"
)

func init() {
	register(&command{
		name:    "history",
		summary: "list, show, search, export and import saved conversations",
		run:     runHistory,
	})
}

const historyUsage = `usage: smallthinker history SUBCOMMAND [flags]

  list                       conversations, pinned then newest first
  show ID                    one conversation (ID or a unique prefix of it)
  search TEXT...             titles and messages containing every word
  export [ID] --format md|json
                             one conversation, or all, to stdout
  import FILE                add the conversations of a JSON export

Every subcommand takes --db DIR (default: the app's history directory);
list, show and search take --json.`

func runHistory(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(os.Stderr, historyUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlags("history " + sub)
	dir := fs.String("db", "", "history directory (default: the app's)")
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 0, "at most this many results (0 = all; search defaults to 100)")
	offset := fs.Int("offset", 0, "skip this many conversations (list)")
	format := fs.String("format", "md", "export format: md or json")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	limitSet := false
	fs.Visit(func(f *flag.Flag) { limitSet = limitSet || f.Name == "limit" })
	if sub == "search" && !limitSet {
		*limit = 100
	}
	if *dir == "" {
		if *dir, err = history.DefaultDir(); err != nil {
			return err
		}
	}
	want := map[string]int{"list": 0, "show": 1, "search": -1, "export": -2, "import": 1}
	n, ok := want[sub]
	switch {
	case !ok:
		fmt.Fprintf(os.Stderr, "smallthinker history: unknown subcommand %q\n\n%s\n", sub, historyUsage)
		return errUsage
	case n >= 0 && len(pos) != n, n == -1 && len(pos) == 0, n == -2 && len(pos) > 1:
		fmt.Fprintf(os.Stderr, "smallthinker history %s: wrong number of arguments\n\n%s\n", sub, historyUsage)
		return errUsage
	}
	if sub != "import" {
		if _, err := os.Stat(*dir); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no history at %s", *dir)
		}
	}
	s, err := openHistory(*dir)
	if err != nil {
		return err
	}
	defer s.Close()
	out := os.Stdout
	switch sub {
	case "list":
		return historyList(out, s, *offset, *limit, *asJSON)
	case "show":
		id, err := resolveID(s, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return s.ExportJSON(out, id)
		}
		return s.ExportMarkdown(out, id)
	case "search":
		return historySearch(out, s, strings.Join(pos, " "), *limit, *asJSON)
	case "export":
		var ids []history.ID
		if len(pos) == 1 {
			id, err := resolveID(s, pos[0])
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		switch *format {
		case "md", "markdown":
			return s.ExportMarkdown(out, ids...)
		case "json":
			return s.ExportJSON(out, ids...)
		}
		return fmt.Errorf("--format %q: want md or json", *format)
	case "import":
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		res, err := s.Import(f)
		fmt.Fprintf(os.Stderr, "imported %d conversations (%d messages), skipped %d already present\n", res.Imported, res.Messages, res.Skipped)
		return err
	}
	return nil
}

// openHistory opens the store and turns its failures into advice.
func openHistory(dir string) (*history.Store, error) {
	s, err := history.Open(dir)
	switch {
	case errors.Is(err, history.ErrLocked):
		return nil, fmt.Errorf("%v\nClose the SmallThinker app (or the other command) using it, then try again", err)
	case errors.Is(err, history.ErrCorrupt):
		return nil, fmt.Errorf("%v\nNothing was changed. The app offers to move it aside and start fresh; the files stay in %s", err, dir)
	}
	return s, err
}

// parseInterspersed parses flags that may come after positional arguments
// ("export ID --format json") and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// resolveID accepts a full ID or a unique prefix of one.
func resolveID(s *history.Store, arg string) (history.ID, error) {
	if id, err := history.ParseID(arg); err == nil {
		return id, nil
	}
	arg = strings.ToLower(strings.TrimSpace(arg))
	if arg == "" {
		return history.ID{}, errors.New("empty conversation id")
	}
	all, err := s.List(0, 0)
	if err != nil {
		return history.ID{}, err
	}
	var found []history.ID
	for _, c := range all {
		if strings.HasPrefix(c.ID.String(), arg) {
			found = append(found, c.ID)
		}
	}
	switch len(found) {
	case 0:
		return history.ID{}, fmt.Errorf("no conversation with id %q", arg)
	case 1:
		return found[0], nil
	}
	return history.ID{}, fmt.Errorf("id %q is ambiguous (%d conversations)", arg, len(found))
}

type listEntry struct {
	ID       history.ID `json:"id"`
	Title    string     `json:"title"`
	Created  time.Time  `json:"created"`
	Updated  time.Time  `json:"updated"`
	Model    string     `json:"model,omitempty"`
	Pinned   bool       `json:"pinned,omitempty"`
	Messages int        `json:"messages"`
}

func historyList(w io.Writer, s *history.Store, offset, limit int, asJSON bool) error {
	cs, err := s.List(offset, limit)
	if err != nil {
		return err
	}
	entries := make([]listEntry, 0, len(cs))
	for _, c := range cs {
		entries = append(entries, listEntry{c.ID, c.DisplayTitle(), c.Created, c.Updated, c.Model, c.Pinned, c.MessageCount})
	}
	if asJSON {
		return writeJSON(w, entries)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUPDATED\tMSGS\tTITLE")
	for _, e := range entries {
		pin := ""
		if e.Pinned {
			pin = "* "
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s%s\n", e.ID, e.Updated.Local().Format("2006-01-02 15:04"), e.Messages, pin, e.Title)
	}
	return tw.Flush()
}

type searchEntry struct {
	ID      history.ID `json:"id"`
	Title   string     `json:"title"`
	InTitle bool       `json:"in_title,omitempty"`
	Seq     *uint64    `json:"seq,omitempty"`
	Role    string     `json:"role,omitempty"`
	Snippet string     `json:"snippet"`
}

func historySearch(w io.Writer, s *history.Store, query string, limit int, asJSON bool) error {
	hits, err := s.Search(query, limit)
	if err != nil {
		return err
	}
	entries := make([]searchEntry, 0, len(hits))
	for _, h := range hits {
		e := searchEntry{ID: h.ConvID, Title: h.Title, InTitle: h.InTitle, Role: h.Role, Snippet: h.Snippet}
		if !h.InTitle {
			seq := h.Seq
			e.Seq = &seq
		}
		entries = append(entries, e)
	}
	if asJSON {
		return writeJSON(w, entries)
	}
	for _, e := range entries {
		where := "title"
		if !e.InTitle {
			where = fmt.Sprintf("%s #%d", e.Role, *e.Seq)
		}
		fmt.Fprintf(w, "%s  %s  [%s]  %s\n", e.ID, e.Title, where, e.Snippet)
	}
	if len(entries) == 0 {
		fmt.Fprintln(os.Stderr, "no matches")
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
