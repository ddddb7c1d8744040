package cli

import (
	"errors"
	"fmt"
)

// Exit codes, the same for every command and every -o (SPEC §8).
const (
	ExitClean     = 0 // ran, found nothing
	ExitFound     = 1 // ran and found something (a problem row, a drift, a rejection, a refusal)
	ExitCannotRun = 2 // bad flags, unreadable input, API unreachable, a read it cannot do
)

// ExitError carries an exit code out of a command's RunE. Err, when set, is printed
// on stderr; a command that already printed its findings returns errFound.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// errFound is returned by a command that printed what it found: exit 1, nothing more to say.
var errFound = &ExitError{Code: ExitFound}

// found returns errFound when any is true, so commands end with `return found(n > 0)`.
func found(any bool) error {
	if any {
		return errFound
	}
	return nil
}

// exitCode maps a command's error to the process exit code; every error that is not
// an ExitError means the command could not run.
func exitCode(err error) int {
	if err == nil {
		return ExitClean
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitCannotRun
}

func asExit(err error, target **ExitError) bool { return errors.As(err, target) }
