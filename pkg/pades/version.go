package pades

import (
	"bytes"
	"maps"
	"strconv"
)

// version returns the document's PDF version as major*10+minor: the later
// of the header's and the catalog's /Version (ISO 32000 §7.2.2, §7.7.2).
func (d *document) version(cat dict) int {
	v := 0
	if head, _, err := d.readAt(0, int(min(1024, d.size))); err == nil {
		if i := bytes.Index(head, []byte("%PDF-")); i >= 0 && i+8 <= len(head) {
			v = parseVersion(string(head[i+5 : i+8]))
		}
	}
	if n := cat.name("Version"); n != "" {
		v = max(v, parseVersion(string(n)))
	}
	return v
}

func parseVersion(s string) int {
	if len(s) != 3 || s[1] != '.' {
		return 0
	}
	major, err1 := strconv.Atoi(s[:1])
	minor, err2 := strconv.Atoi(s[2:])
	if err1 != nil || err2 != nil {
		return 0
	}
	return major*10 + minor
}

// declarePAdES makes a file older than PDF 1.7 declare the PAdES structures
// the revision adds (DSS, document timestamps, ETSI sub-filters), as ETSI
// EN 319 142-1 asks: the catalog's /Version becomes 1.7 and /Extensions gets
// the ESIC developer extension (base version 1.7, extension level 1). It
// composes with the revision's other catalog changes, so it runs last.
func (rv *revision) declarePAdES() error {
	catRef, cat, err := rv.catalog()
	if err != nil || rv.d.version(cat) >= 17 {
		return err
	}
	ext, err := rv.d.resolveDict(cat["Extensions"])
	if err != nil {
		return err
	}
	ext = maps.Clone(ext)
	if ext == nil {
		ext = dict{"Type": name("Extensions")}
	}
	if ext["ESIC"] == nil {
		ext["ESIC"] = dict{"Type": name("DeveloperExtensions"), "BaseVersion": name("1.7"), "ExtensionLevel": int64(1)}
	}
	cat["Version"] = name("1.7")
	cat["Extensions"] = ext
	rv.set(catRef, cat)
	return nil
}
