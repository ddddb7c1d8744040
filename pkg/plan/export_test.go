package plan

// SetSimulator installs the simulator applied uses; simulate_test.go (package
// plan_test) calls it with apply.Simulate, which this package cannot import.
func SetSimulator(f func(Snapshot, Plan) Snapshot) { simulate = f }
