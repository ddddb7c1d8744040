package plan_test

import (
	"fmt"

	"github.com/nowakeai/svcmux/pkg/apply"
	"github.com/nowakeai/svcmux/pkg/plan"
)

func init() {
	plan.SetSimulator(func(s plan.Snapshot, p plan.Plan) plan.Snapshot {
		next, err := apply.Simulate(s, apply.Diff(p, s))
		if err != nil {
			panic(fmt.Sprintf("the agent's own writes do not apply: %v", err))
		}
		return next
	})
}
