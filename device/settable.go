package device

import (
	"fmt"

	"github.com/camerad/camerad/device/uapi"
)

// Which controls camera.yml can set. camerad sets them with VIDIOC_S_CTRL, which takes one
// 32-bit value: the kernel refuses it for a read-only control (EACCES) and for one whose value
// is not a single 32-bit number (64-bit, text, arrays and structures: EINVAL). A button it
// would take, but pressing one is an action (vivid's Disconnect, an encoder's Force Key
// Frame), not a setting to repeat at every open. Telling these apart by what QUERYCTRL says
// lets -list-cameras mark them and lets a setting that names one be refused with the reason,
// rather than with the driver's bare errno.

// cannotSet says why camera.yml cannot set the control: a short label for -list-cameras
// ("read-only") and the reason for the warning at open. Both are "" for a control it can set.
func (c ControlInfo) cannotSet() (label, reason string) {
	switch {
	case c.Type == uapi.CtrlTypeClass:
		return "control class", "it names a class of controls, not a control"
	case c.Flags&uapi.CtrlFlagDisabled != 0:
		return "disabled", "the driver has disabled the control"
	case c.Flags&uapi.CtrlFlagReadOnly != 0:
		return "read-only", "the control is read-only"
	}
	if c.holdsOneNumber() {
		return "", ""
	}
	switch c.Type {
	case uapi.CtrlTypeButton:
		return "button", "the control is a button, an action with no value: camerad does not press buttons"
	case uapi.CtrlTypeInteger64:
		return "64-bit", "the control holds a 64-bit value: camerad sets 32-bit controls only"
	case uapi.CtrlTypeString:
		return "text", "the control holds text: camerad sets numeric controls only"
	}
	if c.Type >= uapi.CtrlTypeCompound {
		return "compound", "the control is a compound one (an array or a structure): camerad sets single values only"
	}
	return fmt.Sprintf("type %d", c.Type), fmt.Sprintf("the control is of type %d, which camerad does not know", c.Type)
}

// hasValue reports whether VIDIOC_G_CTRL reads the control's value: a single 32-bit number
// that is not write-only (a button has none).
func (c ControlInfo) hasValue() bool {
	return c.holdsOneNumber() && c.Flags&uapi.CtrlFlagWriteOnly == 0
}

// holdsOneNumber reports whether the control's type is one whose value is a single 32-bit
// number, which VIDIOC_S_CTRL and VIDIOC_G_CTRL take.
func (c ControlInfo) holdsOneNumber() bool {
	switch c.Type {
	case uapi.CtrlTypeInteger, uapi.CtrlTypeBoolean, uapi.CtrlTypeMenu, uapi.CtrlTypeIntegerMenu, uapi.CtrlTypeBitmask:
		return true
	}
	return false
}
