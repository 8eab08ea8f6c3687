package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/buzzmirror/buzzmirror/sync"
)

// Erase forgets a person: erase contact ID.
func Erase(ctx context.Context, env Env) error {
	fs, cf := newFlags(env, "erase", "buzzmirror erase contact ID [--yes | --dry-run]\n\n"+
		"Forget a person: the contact, the conversations and messages whose contactId\n"+
		"is ID and the workflow runs naming it leave the mirror (the change feed lists\n"+
		"them as deletes), and every journaled event dated up to now that named one of\n"+
		"them keeps only its id, type and times, with status erased. Later deliveries\n"+
		"of those events, or of others dated before now naming those rows, are\n"+
		"journaled erased too; events dated later are applied as usual. Runs while\n"+
		"serve runs. Backups taken earlier still hold the person's data.", "database", "log")
	yes := fs.Bool("yes", false, "do not ask for confirmation (needed without a terminal)")
	dry := fs.Bool("dry-run", false, "print what would be removed, change nothing")
	args, err := parsePositional(fs, env.Args)
	if err != nil {
		return err
	}
	if len(args) != 2 || args[0] != "contact" || args[1] == "" {
		fmt.Fprintln(env.Stderr, "erase takes two arguments: contact ID")
		fs.Usage()
		return ErrUsage
	}
	id := args[1]
	cfg, err := cf.Load(env.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, env.Stderr)
	db, _, err := openStore(ctx, cfg, requireSchema, log, bulkWriter)
	if err != nil {
		return err
	}
	defer db.Close()

	if *dry || !*yes {
		plan, err := sync.Erase(ctx, db, log, id, sync.EraseOptions{DryRun: true})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "contact %s: would remove %s\n", id, describeErasure(plan))
		if *dry {
			return nil
		}
	}
	if !*yes {
		in, ok := env.Stdin.(*os.File)
		if !ok || !isatty.IsTerminal(in.Fd()) {
			return fmt.Errorf("erase: no terminal to confirm on: pass --yes to erase without asking")
		}
		fmt.Fprintf(env.Stderr, "Erase contact %s for good? Type the contact id to confirm: ", id)
		answer, _ := bufio.NewReader(in).ReadString('\n')
		if strings.TrimSpace(answer) != id {
			return fmt.Errorf("erase: not confirmed; nothing changed")
		}
	}
	st, err := sync.Erase(ctx, db, log, id, sync.EraseOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "erased contact %s: %s\n", id, describeErasure(st))
	return nil
}

func describeErasure(st sync.EraseStats) string {
	return fmt.Sprintf("%d contact, %d conversations, %d messages, %d workflow runs and %d journaled events; %d other rows computed again",
		st.Contacts, st.Conversations, st.Messages, st.WorkflowRuns, st.Events, st.Recomputed)
}
