package sync

import "github.com/buzzmirror/buzzmirror/models"

// applyWorkflow records one workflow run. A run is named by its runId, else
// by the event id; should BuzzBip send one runId twice, its fields follow the
// same newest-wins rule as every row and triggeredAt is the first firing.
// workflow.triggered neither creates nor dates contacts and conversations.
func (w *work) applyWorkflow(ev *Event) error {
	d, id := ev.Workflow, runID(ev)
	e, err := load(w, w.runs, id, w.m.WorkflowRun, func() *models.WorkflowRun {
		return &models.WorkflowRun{ID: id, Versions: models.Versions{}}
	}, runCounter)
	if err != nil {
		return err
	}
	r, v := e.row, ev.Version()
	changed := named(&r.TriggeredAt, ev.CreatedAt)
	if r.Versions.Claim("workflowId", v) {
		r.WorkflowID, changed = d.WorkflowID, true
	}
	changed = setOpt(r.Versions, "contactId", v, d.ContactID, &r.ContactID) || changed
	changed = setOpt(r.Versions, "conversationId", v, d.ConversationID, &r.ConversationID) || changed
	changed = setOpt(r.Versions, "source", v, d.Source, &r.Source) || changed
	e.dirty = e.dirty || changed
	return nil
}

// runID names the run of a workflow.triggered event.
func runID(ev *Event) string {
	if id := ev.Workflow.RunID.Val; id != nil {
		return *id
	}
	return ev.ID
}
