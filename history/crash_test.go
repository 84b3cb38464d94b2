package history

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "HISTORY_CRASH_CHILD_DIR"

// crashChild runs in a child process: it appends messages and checkpoints a
// streaming reply in a loop, printing each one only after the store said it
// was saved, until the parent kills it.
func crashChild() {
	dir := os.Getenv(crashChildEnv)
	s, err := OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	s.checkpointEvery = 0 // checkpoint on every Update
	c, err := s.CreateConversation(Conversation{Model: "m"})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	reply, err := s.BeginReply(c.ID, "m")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("conv", c.ID, reply.Message().Seq)
	var text strings.Builder
	for i := 0; ; i++ {
		if _, err := s.AppendMessage(c.ID, Message{Role: RoleUser, Text: crashText(i)}); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("msg", i)
		fmt.Fprintf(&text, "w%d ", i)
		if err := reply.Update(text.String(), "", Stats{GeneratedTokens: i + 1}); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ckpt", i)
	}
}

func crashText(i int) string {
	return fmt.Sprintf("message %d %s", i, strings.Repeat("x", i%300))
}

func TestCrashKill9(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL test needs a Unix")
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	for round, wait := range []time.Duration{150 * time.Millisecond, 400 * time.Millisecond, 900 * time.Millisecond} {
		convID, replySeq, lastMsg, lastCkpt := runCrashChild(t, dir, wait)
		t.Logf("round %d: killed after %d acknowledged messages", round, lastMsg+1)
		if lastMsg < 0 {
			t.Fatalf("round %d: the child acknowledged nothing", round)
		}
		s, err := OpenWith(dir, Options{GCInterval: -1})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		msgs, err := s.Messages(convID)
		if err != nil {
			t.Fatalf("round %d: messages after kill -9: %v", round, err)
		}
		byText := map[string]bool{}
		var reply *Message
		for i := range msgs {
			byText[msgs[i].Text] = true
			if msgs[i].Seq == replySeq {
				reply = &msgs[i]
			}
		}
		for i := 0; i <= lastMsg; i++ {
			if !byText[crashText(i)] {
				t.Fatalf("round %d: acknowledged message %d lost (have %d messages)", round, i, len(msgs))
			}
		}
		if reply == nil {
			t.Fatalf("round %d: the streaming reply is gone", round)
		}
		if !reply.Incomplete {
			t.Errorf("round %d: an interrupted reply is not marked incomplete", round)
		}
		if want := fmt.Sprintf("w%d ", lastCkpt); lastCkpt >= 0 && !strings.Contains(reply.Text, want) {
			t.Errorf("round %d: reply lost its last checkpoint %q: %q", round, want, tail(reply.Text))
		}
		c, err := s.Conversation(convID)
		if err != nil {
			t.Fatal(err)
		}
		if c.MessageCount != len(msgs) {
			t.Errorf("round %d: message count %d, have %d messages", round, c.MessageCount, len(msgs))
		}
		if err := s.Verify(); err != nil {
			t.Errorf("round %d: checksums after kill -9: %v", round, err)
		}
		if got, want := indexKeys(t, s), expectedIndex(t, s); !reflect.DeepEqual(got, want) {
			t.Errorf("round %d: the search index disagrees with the messages after kill -9", round)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func tail(s string) string {
	if len(s) > 40 {
		return "…" + s[len(s)-40:]
	}
	return s
}

// runCrashChild starts the writer, lets it run for wait, kills it with
// SIGKILL and returns what it acknowledged (-1 when nothing).
func runCrashChild(t *testing.T, dir string, wait time.Duration) (conv ID, replySeq uint64, lastMsg, lastCkpt int) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lastMsg, lastCkpt = -1, -1
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var deadline <-chan time.Time
	for killed := false; ; {
		select {
		case <-deadline:
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			deadline = nil
		case line, ok := <-lines:
			if !ok {
				cmd.Wait()
				if !killed {
					t.Fatal("the child exited by itself")
				}
				return
			}
			f := strings.Fields(line)
			switch f[0] {
			case "conv":
				id, err := ParseID(f[1])
				if err != nil {
					t.Fatal(err)
				}
				conv = id
				replySeq, _ = strconv.ParseUint(f[2], 10, 64)
				deadline = time.After(wait)
			case "msg":
				lastMsg, _ = strconv.Atoi(f[1])
			case "ckpt":
				lastCkpt, _ = strconv.Atoi(f[1])
			default:
				t.Fatalf("child: %s", line)
			}
		}
	}
}
