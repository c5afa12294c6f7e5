package board

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ModuleName normalises a module file name or name to the kernel's form: no directory, no
// .ko suffix (or compressed .ko.xz/.ko.zst), dashes as underscores ("bcm2835-v4l2" and
// "kernel/.../bcm2835-v4l2.ko" both become "bcm2835_v4l2").
func ModuleName(s string) string {
	s = path.Base(s)
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}

// ModuleDeps is a parsed modules.dep: for every module, its file (relative to
// /lib/modules/<release>) and the files of the modules it needs.
type ModuleDeps struct {
	file map[string]string   // name -> file
	deps map[string][]string // name -> names of direct dependencies as listed
}

// ParseModulesDep reads the depmod format: "path.ko: dep1.ko dep2.ko" per line.
func ParseModulesDep(r io.Reader) (*ModuleDeps, error) {
	d := &ModuleDeps{file: map[string]string{}, deps: map[string][]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		mod, rest, ok := strings.Cut(text, ":")
		if !ok || strings.TrimSpace(mod) == "" {
			return nil, fmt.Errorf("modules.dep line %d: no \"module:\" in %q", line, text)
		}
		mod = strings.TrimSpace(mod)
		name := ModuleName(mod)
		d.file[name] = mod
		var deps []string
		for _, f := range strings.Fields(rest) {
			deps = append(deps, ModuleName(f))
			if _, ok := d.file[ModuleName(f)]; !ok {
				d.file[ModuleName(f)] = f
			}
		}
		d.deps[name] = deps
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.dep: %w", err)
	}
	return d, nil
}

// File returns the module's path relative to the modules directory.
func (d *ModuleDeps) File(name string) (string, bool) {
	f, ok := d.file[ModuleName(name)]
	return f, ok
}

// ErrUnknownModule is returned (wrapped) for a requested module modules.dep does not list.
var ErrUnknownModule = errors.New("module not in modules.dep")

// LoadOrder returns the modules to insert, dependencies first, each once, for the wanted
// modules in the order asked. Unknown modules are reported in the error but do not stop the
// others: a board without that driver should still boot.
func (d *ModuleDeps) LoadOrder(wanted []string) ([]string, error) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var order []string
	var errs []error
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("modules.dep: dependency cycle %s -> %s", strings.Join(chain, " -> "), name)
		}
		if _, ok := d.file[name]; !ok {
			return fmt.Errorf("%s: %w", name, ErrUnknownModule)
		}
		state[name] = visiting
		for _, dep := range d.deps[name] {
			if err := visit(dep, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, name)
		return nil
	}
	for _, w := range wanted {
		if err := visit(ModuleName(w), nil); err != nil {
			errs = append(errs, err)
		}
	}
	return order, errors.Join(errs...)
}

// Module is a module to load with its parameters ("n_devs=1").
type Module struct {
	Name   string
	Params string
	// AfterBoot: load it only once the boot partition is mounted and the kernel looks for
	// firmware in its firmware folder too (UseBootFirmware). A driver asks for its firmware
	// when it binds, and does not ask again.
	AfterBoot bool
}

// LoadModules inserts mods and their dependencies from dir (/lib/modules/<release>) with
// finit_module(2), in modules.dep order. A module already present (built in or loaded) is
// fine; a module that fails (e.g. a driver whose hardware is absent) is logged and skipped,
// so one missing device never stops the camera from booting. It returns the names loaded.
func LoadModules(log *slog.Logger, dir string, mods []Module) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("load modules: %w", err)
	}
	deps, err := ParseModulesDep(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("load modules from %s: %w", dir, err)
	}
	params := map[string]string{}
	names := make([]string, 0, len(mods))
	for _, m := range mods {
		params[ModuleName(m.Name)] = m.Params
		names = append(names, m.Name)
	}
	order, orderErr := deps.LoadOrder(names)
	if orderErr != nil {
		log.Warn("modules missing from the image", "err", orderErr)
	}
	var loaded []string
	for _, name := range order {
		file, _ := deps.File(name)
		if err := insmod(filepath.Join(dir, file), params[name]); err != nil {
			log.Warn("module not loaded", "module", name, "err", err)
			continue
		}
		log.Debug("module loaded", "module", name)
		loaded = append(loaded, name)
	}
	return loaded, nil
}

func insmod(file, params string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("insmod: %w", err)
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), params, 0)
	if err == nil || errors.Is(err, unix.EEXIST) {
		return nil
	}
	return fmt.Errorf("finit_module %s: %w", file, err)
}
