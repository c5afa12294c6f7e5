package discovery

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/pion/logging"
)

// pionLogger routes pion's leveled logger into slog, so the library's
// messages land in the same log as ours, tagged with their scope.
type pionLogger struct{ log *slog.Logger }

func (f pionLogger) NewLogger(scope string) logging.LeveledLogger {
	return pionLeveled{f.log.With("lib", "pion/"+scope)}
}

type pionLeveled struct{ log *slog.Logger }

// pionRoutineWarnings are pion warnings that any host on the LAN can cause at will, so they go
// to debug: as warnings, one per packet, they would flood the log (and the card it is kept
// on). Our own parser logs what it rejects at debug level too (wire.go).
var pionRoutineWarnings = []string{
	// A question on an interface we do not publish on (loopback, when a program on the
	// camera itself resolves a .local name): not answering is right.
	"no interface for",
	// A malformed packet (pion's server or its client side).
	"failed to parse mDNS",
}

// pion traces every packet at debug level; both its trace and debug map to
// slog's debug.
func (l pionLeveled) Trace(msg string)                  { l.log.Debug(msg) }
func (l pionLeveled) Tracef(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l pionLeveled) Debug(msg string)                  { l.log.Debug(msg) }
func (l pionLeveled) Debugf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l pionLeveled) Info(msg string)                   { l.log.Info(msg) }
func (l pionLeveled) Infof(format string, args ...any)  { l.log.Info(fmt.Sprintf(format, args...)) }
func (l pionLeveled) Warn(msg string)                   { l.log.Warn(msg) }
func (l pionLeveled) Warnf(format string, args ...any) {
	for _, routine := range pionRoutineWarnings {
		if strings.Contains(format, routine) {
			l.log.Debug(fmt.Sprintf(format, args...))
			return
		}
	}
	l.log.Warn(fmt.Sprintf(format, args...))
}

func (l pionLeveled) Error(msg string)                  { l.log.Error(msg) }
func (l pionLeveled) Errorf(format string, args ...any) { l.log.Error(fmt.Sprintf(format, args...)) }
