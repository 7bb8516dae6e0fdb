package debimport

import (
	"strings"
)

// copyrightLicense returns the license of a package from its
// usr/share/doc/<pkg>/copyright file when that file is machine-readable
// (DEP-5, https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/):
// the License field of the "Files: *" paragraph, its first line only (the
// short name or expression; the license text follows on continuation
// lines), with Debian's short names translated to SPDX identifiers where
// the translation is unambiguous (see spdxNames). It returns "" for a
// free-form copyright file or one without a "Files: *" paragraph.
func copyrightLicense(data []byte) string {
	paras, err := parseParagraphs(data, true)
	if err != nil || len(paras) == 0 {
		return ""
	}
	format := paras[0].Get("Format")
	if format == "" {
		format = paras[0].Get("Format-Specification") // early drafts
	}
	if !strings.Contains(format, "copyright-format") && !strings.Contains(strings.ToLower(format), "dep5") &&
		!strings.Contains(format, "dep-5") {
		return ""
	}
	for _, p := range paras[1:] {
		files, ok := p.Lookup("Files")
		if !ok {
			continue
		}
		star := false
		for _, f := range strings.Fields(files) {
			if f == "*" {
				star = true
			}
		}
		if !star {
			continue
		}
		return spdxExpression(summary(p.Get("License")))
	}
	return ""
}

// spdxNames maps Debian's short license names (copyright-format 1.0,
// "License specification") to SPDX identifiers, keyed in lower case.
var spdxNames = map[string]string{
	"apache-2.0":   "Apache-2.0",
	"artistic":     "Artistic-1.0",
	"artistic-1.0": "Artistic-1.0",
	"artistic-2.0": "Artistic-2.0",
	"bsd-2-clause": "BSD-2-Clause",
	"bsd-3-clause": "BSD-3-Clause",
	"bsd-4-clause": "BSD-4-Clause",
	"cc0-1.0":      "CC0-1.0",
	"expat":        "MIT",
	"mit":          "MIT",
	"isc":          "ISC",
	"zlib":         "Zlib",
	"mpl-1.1":      "MPL-1.1",
	"mpl-2.0":      "MPL-2.0",
	"psf-2":        "PSF-2.0",
	"python-2.0":   "Python-2.0",
	"openssl":      "OpenSSL",
	"gpl-1":        "GPL-1.0-only",
	"gpl-1+":       "GPL-1.0-or-later",
	"gpl-2":        "GPL-2.0-only",
	"gpl-2+":       "GPL-2.0-or-later",
	"gpl-3":        "GPL-3.0-only",
	"gpl-3+":       "GPL-3.0-or-later",
	"lgpl-2":       "LGPL-2.0-only",
	"lgpl-2+":      "LGPL-2.0-or-later",
	"lgpl-2.1":     "LGPL-2.1-only",
	"lgpl-2.1+":    "LGPL-2.1-or-later",
	"lgpl-3":       "LGPL-3.0-only",
	"lgpl-3+":      "LGPL-3.0-or-later",
	"agpl-3":       "AGPL-3.0-only",
	"agpl-3+":      "AGPL-3.0-or-later",
	"gfdl-1.2":     "GFDL-1.2-only",
	"gfdl-1.2+":    "GFDL-1.2-or-later",
	"gfdl-1.3":     "GFDL-1.3-only",
	"gfdl-1.3+":    "GFDL-1.3-or-later",
}

// spdxExpression rewrites a Debian license expression ("BSD-3-clause or
// GPL-2") with SPDX identifiers and operators. Unknown names are kept as
// written, and so is an expression with an exception ("GPL-2+ with
// OpenSSL exception"), whose free-form exception names SPDX spells
// differently.
func spdxExpression(expr string) string {
	words := strings.Fields(expr)
	for _, w := range words {
		if strings.EqualFold(w, "with") {
			return strings.Join(words, " ")
		}
	}
	for i, w := range words {
		trail := ""
		if strings.HasSuffix(w, ",") {
			w, trail = strings.TrimSuffix(w, ","), ","
		}
		switch lw := strings.ToLower(w); {
		case lw == "or", lw == "and":
			w = strings.ToUpper(lw)
		case spdxNames[lw] != "":
			w = spdxNames[lw]
		}
		words[i] = w + trail
	}
	return strings.Join(words, " ")
}
