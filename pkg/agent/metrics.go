package agent

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/apply"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Pass kinds and results, as metric label values.
const (
	passMux     = "mux"
	passChannel = "channel"

	resultSuccess  = "success"
	resultConflict = "conflict"
	resultError    = "error"
)

// metrics live in the agent's own registry, not the process-wide default, so two
// agents in one test process do not collide.
type metrics struct {
	registry  *prometheus.Registry
	passes    *prometheus.CounterVec
	muxPasses *prometheus.CounterVec
	errors    *prometheus.CounterVec
	writes    *prometheus.CounterVec
	conflicts prometheus.Counter
	events    *prometheus.CounterVec
	channels  *prometheus.GaugeVec
	ports     *prometheus.GaugeVec
	duration  *prometheus.HistogramVec
	stages    *prometheus.HistogramVec
	leader    prometheus.Gauge
	startup   *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcmux_passes_total", Help: "Reconcile passes by kind (mux, channel) and result (success, conflict, error).",
		}, []string{"kind", "result"}),
		// Per mux, so a test (or an operator) can tell that the agent has looked
		// at one mux since a moment: svcmux_passes_total sums every mux.
		muxPasses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcmux_mux_passes_total", Help: "Finished passes of each mux, every result.",
		}, []string{"namespace", "mux"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcmux_errors_total", Help: "Failed passes by the step that failed (snapshot, apply).",
		}, []string{"step"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcmux_writes_total", Help: "API writes made, by kind of object (dry-run counts what it would write).",
		}, []string{"kind"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svcmux_write_conflicts_total", Help: "Writes refused with a resourceVersion conflict (the pass is retried).",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcmux_events_total", Help: "Kubernetes Events posted, by type and reason (identical repeats are not posted).",
		}, []string{"type", "reason"}),
		channels: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "svcmux_mux_channels", Help: "Channels attached to a mux, by state (attached; accepted, kept (a refused edit, last ports still served) and rejected, each channel in one).",
		}, []string{"namespace", "mux", "state"}),
		ports: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "svcmux_mux_ports", Help: "Ports served by a mux.",
		}, []string{"namespace", "mux"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "svcmux_pass_duration_seconds", Help: "Duration of a reconcile pass, snapshot to last write.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"kind"}),
		// Which stage a slow pass spends its time in: a mux patch of many new
		// ports waits on the API server's NodePort allocations, each its own etcd write.
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "svcmux_write_stage_duration_seconds", Help: "Duration of one write stage of a pass (state, mux, endpoints, channels, channel-status, ...), first write queued to last answered.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"stage"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "svcmux_leader", Help: "1 while this replica holds the leader lease (or runs without leader election).",
		}),
		// The benchmark times convergence from the first LIST as well as from
		// process start: the difference is start-up, not reconciling.
		startup: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "svcmux_startup_timestamp_seconds", Help: "Unix time the informers started (phase=list: the first LIST is sent) and their caches synced (phase=synced).",
		}, []string{"phase"}),
	}
	m.registry.MustRegister(m.passes, m.muxPasses, m.errors, m.writes, m.conflicts, m.events, m.channels, m.ports, m.duration, m.stages, m.leader, m.startup,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the registry in the Prometheus exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

func (m *metrics) observeWrites(r apply.Result) {
	for kind, n := range r.Writes {
		m.writes.WithLabelValues(string(kind)).Add(float64(n))
	}
	m.conflicts.Add(float64(r.Conflicts))
	for _, st := range r.Stages {
		m.stages.WithLabelValues(st.Stage.String()).Observe(st.Took.Seconds())
	}
}

// observeMux sets the per-mux gauges from the plan's counts.
func (m *metrics) observeMux(ref api.MuxRef, s plan.Stats) {
	m.channels.WithLabelValues(ref.Namespace, ref.Name, "attached").Set(float64(s.Channels))
	m.channels.WithLabelValues(ref.Namespace, ref.Name, "accepted").Set(float64(s.Accepted))
	m.channels.WithLabelValues(ref.Namespace, ref.Name, "kept").Set(float64(s.Kept))
	m.channels.WithLabelValues(ref.Namespace, ref.Name, "rejected").Set(float64(s.Rejected))
	m.ports.WithLabelValues(ref.Namespace, ref.Name).Set(float64(s.Ports))
}

// forgetMux drops a deleted mux's series so a gauge never reports a mux that is gone.
func (m *metrics) forgetMux(ref api.MuxRef) {
	for _, state := range []string{"attached", "accepted", "kept", "rejected"} {
		m.channels.DeleteLabelValues(ref.Namespace, ref.Name, state)
	}
	m.ports.DeleteLabelValues(ref.Namespace, ref.Name)
}

// registerQueue exports the work queue's depth: a growing queue means passes
// cannot keep up.
func (m *metrics) registerQueue(q interface{ Len() int }) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "svcmux_queue_depth", Help: "Work items (muxes and unattached channels) waiting for a pass.",
	}, func() float64 { return float64(q.Len()) }))
}
