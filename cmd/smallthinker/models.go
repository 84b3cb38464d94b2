package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"smallthinker/app/models"
)

func init() {
	register(&command{name: "models", summary: "list, download, import and verify model files", run: runModels})
}

const modelsUsage = `usage:
  smallthinker models list [--dir DIR]
  smallthinker models download NAME|URL [--sha256 HEX] [--dir DIR]
  smallthinker models import PATH [--copy] [--dir DIR]
  smallthinker models verify PATH
DIR defaults to $` + models.DirEnv + ` or the per-user data folder.`

func runModels(args []string) error {
	if len(args) == 0 {
		return errors.New(modelsUsage)
	}
	switch args[0] {
	case "list":
		return modelsList(args[1:])
	case "download":
		return modelsDownload(args[1:])
	case "import":
		return modelsImport(args[1:])
	case "verify":
		return modelsVerify(args[1:])
	case "-h", "--help", "help":
		fmt.Println(modelsUsage)
		return nil
	}
	return fmt.Errorf("unknown subcommand %q\n%s", args[0], modelsUsage)
}

func modelsList(args []string) error {
	fs := newFlags("models list")
	dir := fs.String("dir", models.DefaultDir(), "models directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New(modelsUsage)
	}
	installed, err := models.Installed(*dir)
	if err != nil {
		return err
	}
	fmt.Printf("Installed in %s:\n", *dir)
	if len(installed) == 0 {
		fmt.Println("  (none)")
	}
	have := map[string]bool{}
	for _, m := range installed {
		have[modelsBaseName(m.Path)] = true
		status := "ok"
		switch {
		case m.Err != nil:
			status = "UNUSABLE: " + m.Err.Error()
		case m.Demo:
			status = "demo (random weights, meaningless text)"
		}
		where := ""
		if m.Imported {
			where = " [imported in place]"
		}
		fmt.Printf("  %-48s %-7s %10s  %s%s\n    %s\n", m.Name, m.Quant, models.HumanBytes(m.Size), status, where, m.Path)
	}
	ram, ramOK := models.TotalRAM()
	rec := ""
	if ramOK {
		rec = models.Recommend(ram).ID
	}
	fmt.Println("\nAvailable to download (smallthinker models download ID):")
	for _, e := range models.Catalog() {
		var notes []string
		if e.Official {
			notes = append(notes, "official")
		} else {
			notes = append(notes, "community: "+e.Publisher)
		}
		if e.SHA256 == "" {
			notes = append(notes, "no published checksum")
		}
		if !e.URLVerified {
			notes = append(notes, "URL unconfirmed")
		}
		if have[e.File] {
			notes = append(notes, "INSTALLED")
		}
		if e.ID == rec {
			notes = append(notes, fmt.Sprintf("RECOMMENDED for %s RAM", models.HumanBytes(ram)))
		}
		size := "?"
		if e.Size > 0 {
			size = "~" + models.HumanBytes(e.Size)
			if e.SizeExact {
				size = models.HumanBytes(e.Size)
			}
		}
		fmt.Printf("  %-32s %-7s %10s  %s\n", e.ID, e.Quant, size, strings.Join(notes, ", "))
	}
	return nil
}

func modelsDownload(args []string) error {
	fs := newFlags("models download")
	dir := fs.String("dir", models.DefaultDir(), "models directory")
	sum := fs.String("sha256", "", "expected SHA-256 of the file (hex)")
	pos, err := modelsParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New(modelsUsage)
	}
	var e models.Entry
	if strings.Contains(pos[0], "://") {
		if e, err = models.EntryForURL(pos[0], *sum); err != nil {
			return err
		}
	} else {
		var ok bool
		if e, ok = models.Find(pos[0]); !ok {
			return fmt.Errorf("no catalog entry %q (see 'smallthinker models list', or pass a URL)", pos[0])
		}
		if *sum != "" {
			e.SHA256 = strings.ToLower(*sum)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(os.Stderr, "downloading %s\n  from %s\n  into %s\n", e.File, e.URL, *dir)
	tty := modelsIsTerminal(os.Stderr)
	last := time.Time{}
	p, err := models.Download(ctx, e, *dir, func(p models.Progress) {
		if p.Phase == "verifying" {
			fmt.Fprintf(os.Stderr, "\n  verifying...\n")
			return
		}
		if !tty && time.Since(last) < 5*time.Second && p.Done != p.Total {
			return
		}
		last = time.Now()
		line := fmt.Sprintf("  %s", models.HumanBytes(p.Done))
		if p.Total > 0 {
			line += fmt.Sprintf(" / %s (%.1f%%)", models.HumanBytes(p.Total), 100*p.Fraction())
		}
		if p.BytesPerSec > 0 {
			line += fmt.Sprintf("  %s/s", models.HumanBytes(int64(p.BytesPerSec)))
		}
		if p.Remaining >= 0 {
			line += fmt.Sprintf("  %s left", p.Remaining.Round(time.Second))
		}
		if tty {
			fmt.Fprintf(os.Stderr, "\r%-70s", line)
		} else {
			fmt.Fprintln(os.Stderr, line)
		}
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; run the same command again to resume")
		}
		return modelsOneLine(err)
	}
	fmt.Println(p)
	return nil
}

func modelsImport(args []string) error {
	fs := newFlags("models import")
	dir := fs.String("dir", models.DefaultDir(), "models directory")
	cp := fs.Bool("copy", false, "copy the file into the models directory instead of using it in place")
	pos, err := modelsParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New(modelsUsage)
	}
	st, err := os.Stat(pos[0])
	if err != nil {
		return modelsOneLine(err)
	}
	if !st.IsDir() {
		info, err := models.Import(pos[0], *dir, *cp)
		if err != nil {
			return modelsOneLine(err)
		}
		fmt.Printf("imported %s (%s, %s)\n", info.Path, info.Family, info.Quant)
		return nil
	}
	found, err := models.ScanFolder(pos[0])
	if err != nil {
		return modelsOneLine(err)
	}
	if len(found) == 0 {
		return fmt.Errorf("no .gguf files under %s", pos[0])
	}
	failed := 0
	for _, r := range found {
		if r.Err != nil {
			failed++
			fmt.Printf("skipped  %s\n", modelsOneLine(r.Err))
			continue
		}
		if _, err := models.Import(r.Path, *dir, *cp); err != nil {
			failed++
			fmt.Printf("failed   %s\n", modelsOneLine(err))
			continue
		}
		fmt.Printf("imported %s\n", r.Path)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files were not imported", failed, len(found))
	}
	return nil
}

func modelsVerify(args []string) error {
	fs := newFlags("models verify")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(modelsUsage)
	}
	info, err := models.Inspect(fs.Arg(0))
	if err != nil {
		return modelsOneLine(err)
	}
	demo := ""
	if info.Demo {
		demo = ", random weights"
	}
	fmt.Printf("ok: %s: %s, %s, %d layers, %d experts (top-%d), vocab %d, %s%s\n", fs.Arg(0), info.Family, info.Quant,
		info.Config.Layers, info.Config.Experts, info.Config.ExpertsUsed, info.Config.Vocab, models.HumanBytes(info.Size), demo)
	return nil
}

// modelsParseArgs parses flags that may come before or after the positional arguments.
func modelsParseArgs(fs interface {
	Parse([]string) error
	NArg() int
	Args() []string
}, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Args()[0])
		args = fs.Args()[1:]
	}
}

func modelsOneLine(err error) error {
	return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
}

func modelsBaseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func modelsIsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
