package main

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/camerad/camerad/board"
)

// kernelModules indexes the .ko files of an unpacked kernel package by module name.
type kernelModules struct {
	dir   string            // .../lib/modules/<release>
	files map[string]string // name -> path relative to dir
}

func indexModules(dir string) (*kernelModules, error) {
	km := &kernelModules{dir: dir, files: map[string]string{}}
	err := filepath.WalkDir(filepath.Join(dir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".ko") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		km.files[board.ModuleName(rel)] = filepath.ToSlash(rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index modules in %s: %w", dir, err)
	}
	return km, nil
}

// modinfoDepends reads the "depends=" entry of a module's .modinfo section: the modules
// whose symbols it uses, which is exactly what depmod turns into modules.dep.
func modinfoDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("modinfo %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("modinfo %s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("modinfo %s: %w", path, err)
	}
	var deps []string
	for _, kv := range bytes.Split(data, []byte{0}) {
		v, ok := bytes.CutPrefix(kv, []byte("depends="))
		if !ok {
			continue
		}
		for _, d := range strings.Split(string(v), ",") {
			if d != "" {
				deps = append(deps, board.ModuleName(d))
			}
		}
	}
	sort.Strings(deps)
	return deps, nil
}

// closure returns the wanted modules plus everything they depend on, and a modules.dep for
// exactly that set (the Debian package ships none: depmod runs at install time).
func (km *kernelModules) closure(wanted []string) (files []string, modulesDep []byte, err error) {
	direct := map[string][]string{}
	var visit func(name, from string) error
	visit = func(name, from string) error {
		if _, ok := direct[name]; ok {
			return nil
		}
		rel, ok := km.files[name]
		if !ok {
			if from != "" {
				return fmt.Errorf("module %s (needed by %s) not in the kernel package", name, from)
			}
			return fmt.Errorf("module %s not in the kernel package (built in, renamed, or not enabled?)", name)
		}
		deps, err := modinfoDepends(filepath.Join(km.dir, rel))
		if err != nil {
			return err
		}
		direct[name] = deps
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		return nil
	}
	for _, w := range wanted {
		if err := visit(board.ModuleName(w), ""); err != nil {
			return nil, nil, err
		}
	}
	names := make([]string, 0, len(direct))
	for n := range direct {
		names = append(names, n)
	}
	sort.Strings(names)
	var dep bytes.Buffer
	for _, n := range names {
		files = append(files, km.files[n])
		// depmod lists the transitive closure; so do we, sorted, for stable bytes.
		all := map[string]bool{}
		var walk func(string)
		walk = func(m string) {
			for _, d := range direct[m] {
				if !all[d] {
					all[d] = true
					walk(d)
				}
			}
		}
		walk(n)
		ds := make([]string, 0, len(all))
		for d := range all {
			ds = append(ds, km.files[d])
		}
		sort.Strings(ds)
		fmt.Fprintf(&dep, "%s:", km.files[n])
		for _, d := range ds {
			fmt.Fprintf(&dep, " %s", d)
		}
		dep.WriteByte('\n')
	}
	return files, dep.Bytes(), nil
}
