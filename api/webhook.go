package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/buzzmirror/buzzmirror/internal/ratelog"
	"github.com/buzzmirror/buzzmirror/sync"
)

// SignatureHeader carries BuzzBip's HMAC of the raw body.
const SignatureHeader = "X-BuzzBip-Signature"

// ingestTimeout keeps every answer inside BuzzBip's 10 second window: when
// the database hangs, BuzzBip gets a 503 and retries instead of timing out.
const ingestTimeout = 8 * time.Second

// bodyTimeout is how long a delivery's body may take to arrive.
const bodyTimeout = 10 * time.Second

// Ingester is what the webhook needs of the sync layer.
type Ingester interface {
	Ingest(ctx context.Context, raw []byte) (sync.Result, error)
}

type webhook struct {
	verifier *sync.Verifier
	ingester Ingester
	maxBody  int64
	log      *slog.Logger
	refusals *ratelog.Limiter // 401s, by why
	metrics  *Metrics
	bodies   *bodyBudget
}

// receive answers one delivery. The order is the security argument: cap the
// body, verify the signature over the raw bytes, and only then parse.
func (h *webhook) receive(c echo.Context) error {
	outcome, err := h.handle(c)
	h.metrics.webhook(outcome, err)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": string(outcome.Outcome)})
}

func (h *webhook) handle(c echo.Context) (sync.Result, error) {
	req := c.Request()
	if req.ContentLength > h.maxBody {
		return sync.Result{}, newError(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", h.maxBody)
	}
	// BuzzBip sends a body within its 10 s window; a sender that trickles
	// one holds a connection and memory, and gets no more time.
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(bodyTimeout))
	body, release, err := h.bodies.read(req.Body, req.ContentLength, h.maxBody)
	defer release()
	if err != nil {
		return sync.Result{}, err
	}
	if err := h.verifier.Verify(body, req.Header.Get(SignatureHeader)); err != nil {
		h.refusals.Log(req.Context(), slog.LevelInfo, err.Error(), "webhook: signature refused", "why", err.Error())
		return sync.Result{}, newError(http.StatusUnauthorized, "%s: %s", SignatureHeader, signatureDetail(err))
	}
	// The request's context ends when BuzzBip hangs up; the event may still
	// be committed after that, which is harmless (a retry is a duplicate).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), ingestTimeout)
	defer cancel()
	start := time.Now()
	res, err := h.ingester.Ingest(ctx, body)
	if res.ID != "" {
		c.Set(logEventID, res.ID)
		c.Set(logEventType, res.Type)
	}
	if errors.Is(err, sync.ErrBadEnvelope) {
		return res, newError(http.StatusBadRequest, "%s", err.Error())
	}
	if err != nil {
		return res, err // storage: 503 so BuzzBip retries
	}
	h.metrics.journaled(res, time.Since(start))
	if res.Outcome == sync.Quarantined {
		h.log.Info("webhook: event quarantined", "event", res.ID, "type", res.Type, "reason", res.Reason)
	} else {
		h.log.Debug("webhook: event received", "event", res.ID, "type", res.Type, "outcome", res.Outcome)
	}
	return res, nil
}

// signatureDetail says which of a 401's cases it was.
func signatureDetail(err error) string {
	switch {
	case errors.Is(err, sync.ErrSignatureMissing):
		return "the header is missing"
	case errors.Is(err, sync.ErrSignatureMalformed):
		return fmt.Sprintf("the header is malformed (want 1 to %d HMAC-SHA256 signatures, hex or base64, optionally prefixed sha256=, separated by commas or spaces)", sync.MaxSignatures)
	default:
		return "no signature in the header matches the body under any configured secret"
	}
}
