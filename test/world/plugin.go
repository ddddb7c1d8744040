package world

import (
	"encoding/json"
	"fmt"

	"github.com/nowakeai/svcmux/test/pluginrun"
)

// pluginArgs puts the World's prefix in front of args when it is not the
// default (the plugin reads it from --api-prefix; pluginrun clears the env).
func (w *World) pluginArgs(args []string) []string {
	if w.Prefix == DefaultPrefix {
		return args
	}
	return append([]string{"--api-prefix=" + w.Prefix}, args...)
}

// PluginE runs `kubectl svcmux args...` against the World's control plane
// (pluginrun.Run), with stdin (nil: none). A non-zero exit is in the Result,
// not the error. Scope is the caller's: pass "-n", w.Namespace or "-A".
func (w *World) PluginE(stdin []byte, args ...string) (pluginrun.Result, error) {
	return pluginrun.Run(w.ctx, w.CP.KubeconfigPath(), stdin, w.pluginArgs(args)...)
}

// Plugin is PluginE with no stdin, failing the test when the run could not
// happen; assert on the Result's ExitCode yourself.
func (w *World) Plugin(args ...string) pluginrun.Result {
	res, err := w.PluginE(nil, args...)
	w.must(err)
	return res
}

// PluginJSON runs the plugin (add "-o", "json" yourself), requires exit code
// wantExit, and decodes stdout into out; the failure shows the whole run.
func (w *World) PluginJSON(out any, wantExit int, args ...string) pluginrun.Result {
	res := w.Plugin(args...)
	if res.ExitCode != wantExit {
		w.must(fmt.Errorf("want exit %d, got %s", wantExit, res))
	}
	if err := json.Unmarshal([]byte(res.Stdout), out); err != nil {
		w.must(fmt.Errorf("decode stdout as JSON: %v\n%s", err, res))
	}
	return res
}
