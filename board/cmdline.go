package board

import (
	"os"
	"strings"
)

// KernelArgs are the camerad.* parameters of the kernel command line, without the prefix
// ("camerad.test=1" -> "test": "1"). They let the qemu test change PID 1's behaviour without
// a different image; a real camera's cmdline.txt has none.
type KernelArgs map[string]string

// ParseKernelArgs picks camerad.* words out of a kernel command line. A bare word
// ("camerad.test") gets the value "1".
func ParseKernelArgs(cmdline string) KernelArgs {
	args := KernelArgs{}
	for _, w := range strings.Fields(cmdline) {
		k, ok := strings.CutPrefix(w, "camerad.")
		if !ok || k == "" {
			continue
		}
		name, val, has := strings.Cut(k, "=")
		if name == "" {
			continue
		}
		if !has {
			val = "1"
		}
		args[name] = val
	}
	return args
}

// ReadKernelArgs parses /proc/cmdline.
func ReadKernelArgs() KernelArgs {
	b, _ := os.ReadFile("/proc/cmdline")
	return ParseKernelArgs(string(b))
}

// Bool reports whether the flag is set to a true value.
func (a KernelArgs) Bool(name string) bool {
	switch a[name] {
	case "1", "y", "yes", "true", "on":
		return true
	}
	return false
}
