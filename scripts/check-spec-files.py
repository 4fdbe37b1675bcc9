#!/usr/bin/python3
# check-spec-files.py SPEC PATCHED_ROOT BASE_ROOT
#
# Checks that rhel/openvswitch-fedora.spec.in packages every file that the
# series installs.  PATCHED_ROOT and BASE_ROOT are 'make install DESTDIR=...'
# trees of the patched tree and of the unpatched base (both configured with
# --prefix=/usr --localstatedir=/var --sysconfdir=/etc).  A file installed
# into PATCHED_ROOT that no %files entry of SPEC covers fails the check,
# unless the base installs it unpackaged too (those are upstream's, and are
# listed as information).  Exit status 0 when the series leaves nothing out.

import fnmatch
import os
import re
import sys

# Fedora's values of the macros that %files uses, as 'make install' lays the
# files out with the project's configure options (libdir is /usr/lib there).
MACROS = {
    "_prefix": "/usr",
    "_bindir": "/usr/bin",
    "_sbindir": "/usr/sbin",
    "_libdir": "/usr/lib",
    "_includedir": "/usr/include",
    "_datadir": "/usr/share",
    "_mandir": "/usr/share/man",
    "_sysconfdir": "/etc",
    "_localstatedir": "/var",
    "_sharedstatedir": "/var/lib",
    "_rundir": "/run",
    "_unitdir": "/usr/lib/systemd/system",
    "_docdir": "/usr/share/doc",
    # The spec's %install copies /usr/share/openvswitch/python/ there.
    "python3_sitelib": "/usr/share/openvswitch/python",
}


def expand(text):
    def one(m):
        name = m.group(1) or m.group(2)
        return MACROS.get(name, m.group(0))
    return re.sub(r"%\{\??([A-Za-z0-9_]+)\}|%([A-Za-z_][A-Za-z0-9_]*)",
                  one, text)


def spec_patterns(spec):
    """Every path pattern of every %files section of 'spec'."""
    patterns = []
    in_files = False
    with open(spec) as f:
        for line in f:
            line = line.strip()
            if line.startswith("%files"):
                in_files = True
                continue
            if re.match(r"%(package|description|prep|build|install|check|"
                        r"clean|pre|post|preun|postun|changelog|"
                        r"triggerun)\b", line):
                in_files = False
                continue
            if not in_files or not line or line.startswith("#"):
                continue
            if re.match(r"%(if|else|endif)\b", line):
                continue
            # Drop the directives before the path: %dir, %config(...),
            # %attr(...), %doc, %license, %ghost, %verify(...).
            line = re.sub(r"%(dir|doc|license|ghost|config|attr|verify)"
                          r"(\([^)]*\))?\s*", "", line)
            for word in line.split():
                path = expand(word)
                if path.startswith("/"):
                    patterns.append(path)
    return patterns


def installed(root):
    files = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            files.append(os.path.join(dirpath, name)[len(root):])
    return sorted(files)


def covered(path, patterns):
    for p in patterns:
        if fnmatch.fnmatchcase(path, p) or path.startswith(p.rstrip("/")
                                                           + "/"):
            return True
        # A pattern that names a directory covers what is below it.
        if fnmatch.fnmatchcase(os.path.dirname(path), p):
            return True
    return False


def main():
    if len(sys.argv) != 4:
        print("usage: check-spec-files.py SPEC PATCHED_ROOT BASE_ROOT",
              file=sys.stderr)
        return 2
    spec, patched, base = sys.argv[1:]
    patterns = spec_patterns(spec)
    if not patterns:
        print("check-spec-files.py: no %%files entry found in %s" % spec,
              file=sys.stderr)
        return 2
    base_files = installed(base)
    patched_files = installed(patched)
    if not base_files or not patched_files:
        print("check-spec-files.py: an install tree is empty",
              file=sys.stderr)
        return 2
    base_missing = {f for f in base_files if not covered(f, patterns)}
    added = sorted(set(patched_files) - set(base_files))
    missing = [f for f in patched_files
               if not covered(f, patterns) and f not in base_missing]
    print("the series installs %d files that the base does not: %s"
          % (len(added), " ".join(added) or "none"))
    for f in sorted(base_missing):
        print("unpackaged by upstream's spec already (not the series'): %s"
              % f)
    for f in missing:
        print("installed but in no %%files of the spec: %s" % f)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
