package agent

import "github.com/nowakeai/svcmux/pkg/plan"

// postWriteEvents posts the Events the writes themselves produced (a mux write
// that fell back from remembered NodePorts, SPEC §10). They are added to what the
// objects' last pass stood behind, replacing none of it, so a standing warning is
// not posted again by the next pass; that pass, not standing behind them, drops them.
func (p *eventPoster) postWriteEvents(events []plan.Event) {
	var fresh []plan.Event
	p.mu.Lock()
	for _, e := range events {
		id := identity(e.Object)
		k := eventKey{Type: e.Type, Reason: e.Reason, Message: e.Message, FieldPath: e.FieldPath}
		if _, seen := p.last[id][k]; seen {
			continue
		}
		if p.last[id] == nil {
			p.last[id] = map[eventKey]struct{}{}
		}
		p.last[id][k] = struct{}{}
		fresh = append(fresh, e)
	}
	p.mu.Unlock()
	p.emit(fresh)
}
