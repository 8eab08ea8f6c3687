package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/buzzmirror/buzzmirror/api"
	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/sync"
)

// Send signs events and POSTs them to a webhook URL, printing each answer.
func Send(ctx context.Context, env Env) error {
	fs, cf := newFlags(env, "send", "Sign an event with the configured webhook secret and POST it. Without --file\nit sends a built-in sample of --type; with --type all, a short history: a\ncontact, a conversation resolved after a reply and a failed message, and a\nsecond conversation left open, awaiting a reply. Samples are dated a minute\napart, ending a minute ago. Prints each answer; fails on any non-2xx answer.",
		"listen", "webhook.path", "webhook.secret")
	url := fs.String("url", "", "webhook URL (default: http://<listen><webhook.path> from the configuration)")
	typ := fs.String("type", "all", "sample to send: "+strings.Join(models.EventTypes, ", ")+", or all")
	file := fs.String("file", "", "send this file's bytes as the body instead of a sample")
	id := fs.String("id", "", "event id of the sample (default: random)")
	contact := fs.String("contact", "cnt_demo_1", "contactId the samples use")
	conversation := fs.String("conversation", "conv_demo_1", "conversationId the samples use")
	waiting := fs.String("waiting", "conv_demo_2", "conversationId of the one --type all leaves awaiting a reply")
	cfg, err := parse(env, fs, cf)
	if err != nil {
		return err
	}
	secrets := cfg.Secrets()
	if len(secrets) == 0 {
		return cfg.RequireSecret()
	}
	if *url == "" {
		*url = "http://" + cfg.Listen + cfg.Webhook.Path
	}

	var bodies [][]byte
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		bodies = append(bodies, b)
	} else {
		steps := []step{{*typ, *conversation}}
		if *typ == "all" {
			steps = history(*conversation, *waiting)
		} else if !slices.Contains(models.EventTypes, *typ) {
			return fmt.Errorf("send: unknown --type %q (want %s or all)", *typ, strings.Join(models.EventTypes, ", "))
		}
		// A minute apart, the last a minute ago: in the past, in order.
		start := time.Now().UTC().Truncate(time.Second).Add(-time.Duration(len(steps)) * time.Minute)
		s := samples{contact: *contact}
		for i, st := range steps {
			eventID := *id
			if eventID == "" {
				eventID = "evt_" + randomHex(8)
			} else if len(steps) > 1 {
				eventID = fmt.Sprintf("%s_%d", *id, i+1)
			}
			bodies = append(bodies, s.event(eventID, st, start.Add(time.Duration(i)*time.Minute)))
		}
	}

	client := &http.Client{Timeout: 15 * time.Second}
	failed := 0
	for _, body := range bodies {
		status, answer, err := post(ctx, client, *url, secrets[0], body)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s %d %s\n", describe(body), status, strings.TrimSpace(answer))
		if status/100 != 2 {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("send: %d of %d events were not accepted", failed, len(bodies))
	}
	return nil
}

func post(ctx context.Context, client *http.Client, url, secret string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("send: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.SignatureHeader, "sha256="+sync.Sign(secret, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, "", fmt.Errorf("send: read answer: %w", err)
	}
	return resp.StatusCode, string(answer), nil
}

// describe names a body by its id and type for the printed answer.
func describe(body []byte) string {
	var env struct{ ID, Type string }
	if json.Unmarshal(body, &env) != nil || env.ID == "" {
		return "(unparsed body)"
	}
	return env.ID + " " + env.Type
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// step is one sample event: its type and conversation.
type step struct{ typ, conversation string }

// history is --type all: every type once in a typical conversation, then
// a second one a customer opened and is waiting in.
func history(conversation, waiting string) []step {
	var out []step
	for _, typ := range []string{
		models.TypeContactCreated, models.TypeConversationOpened, models.TypeMessageReceived,
		models.TypeMessageSent, models.TypeMessageFailed, models.TypeWorkflowTriggered,
		models.TypeContactUpdated, models.TypeConversationResolved,
	} {
		out = append(out, step{typ, conversation})
	}
	return append(out, step{models.TypeConversationOpened, waiting}, step{models.TypeMessageReceived, waiting})
}

// samples builds realistic events around one contact.
type samples struct{ contact string }

func (s samples) event(id string, st step, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "type": st.typ, "createdAt": at.Format(time.RFC3339Nano), "data": s.data(st),
	})
	return b
}

func (s samples) data(st step) map[string]any {
	typ := st.typ
	const phone = "+21612345678"
	msg := func(extra map[string]any) map[string]any {
		d := map[string]any{"messageId": "msg_" + randomHex(6), "conversationId": st.conversation,
			"contactId": s.contact, "channel": "whatsapp"}
		for k, v := range extra {
			d[k] = v
		}
		return d
	}
	switch typ {
	case models.TypeMessageReceived:
		return msg(map[string]any{"body": "Hello, I need help with my order", "from": phone})
	case models.TypeMessageSent:
		return msg(map[string]any{"body": "Of course! Could you share your order number?", "to": phone})
	case models.TypeMessageFailed:
		return msg(map[string]any{"body": "Your cart is waiting for you", "to": phone,
			"error": map[string]any{"code": 131026, "message": "Message undeliverable"}})
	case models.TypeConversationOpened, models.TypeConversationResolved:
		return map[string]any{"conversationId": st.conversation, "contactId": s.contact, "channel": "whatsapp"}
	case models.TypeContactCreated:
		return map[string]any{"contactId": s.contact, "phone": phone, "name": "Amira Ben Salah",
			"email": "amira@example.com", "tags": []string{"vip", "newsletter"},
			"fields": map[string]any{"city": "Tunis", "lastOrder": "#10482"}, "locale": "fr"}
	case models.TypeContactUpdated:
		return map[string]any{"contactId": s.contact, "tags": []string{"vip"},
			"fields": map[string]any{"lastOrder": "#10511"}}
	case models.TypeWorkflowTriggered:
		return map[string]any{"workflowId": "wf_abandoned_cart", "runId": "run_" + randomHex(6),
			"contactId": s.contact, "conversationId": st.conversation, "source": "automation"}
	}
	return nil
}
