// Command kubectl-svcmux is the svcmux kubectl plugin (`kubectl svcmux …`). Everything
// lives in pkg/cli; main only wires the process's streams and exit code.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	// Every client-go auth plugin (OIDC, exec, …), so any kubeconfig kubectl reads works here.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"github.com/nowakeai/svcmux/pkg/cli"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Execute(streams, os.Args[1:]))
}
