#!/bin/bash
# The journal message catalog (dist/systemd/lastgood.catalog): exactly one
# entry per event type of agent/eventlog.c's table and none for a type that
# is gone, each complete (Subject, Defined-By, Documentation, a body that
# says what happened and what to do); the real `journalctl --update-catalog`
# accepts it and `--list-catalog` shows every id; `make install` puts it
# where journald looks.
source "$(dirname "$0")/lib.sh"

CATALOG=$TOP/dist/systemd/lastgood.catalog
EVENTLOG_C=$TOP/agent/eventlog.c
EVENTLOG_H=$TOP/agent/eventlog.h

# table_ids FILE — the MESSAGE_IDs of the event table in FILE (eventlog.c).
table_ids() { grep -oE '^\s*\[EVENT_[A-Z0-9_]+\] = \{ "[a-z0-9-]+", "[0-9a-f]{32}"' "$1" | grep -oE '[0-9a-f]{32}'; }
# catalog_ids FILE — the ids of the entries in a catalog.
catalog_ids() { grep -oE '^-- [0-9a-f]{32}$' "$1" | cut -c4-; }

# check_catalog EVENTLOG_C CATALOG — prints each problem; fails when there is one.
check_catalog() {
  local src=$1 cat=$2 id n bad=0
  for id in $(table_ids "$src"); do
    n=$(catalog_ids "$cat" | grep -cx "$id")
    if ((n != 1)); then
      echo "event $(grep -oE "\"[a-z0-9-]+\", \"$id\"" "$src" | cut -d'"' -f2) ($id): $n catalog entries"
      bad=1
    fi
  done
  for id in $(catalog_ids "$cat"); do
    if ! table_ids "$src" | grep -qx "$id"; then
      echo "stale catalog entry $id: no such event type"
      bad=1
    fi
  done
  return $bad
}

# The table parse itself sees every row: as many ids as enum values.
t_table_parse_sees_every_event_type() {
  local rows enums
  rows=$(table_ids "$EVENTLOG_C" | wc -l)
  enums=$(sed -n '/^typedef enum EventType {/,/^} EventType;/p' "$EVENTLOG_H" | grep -cE '^\s*EVENT_[A-Z0-9_]+,')
  ((rows > 0)) || fail "no event table rows found in $EVENTLOG_C"
  assert_eq "$rows" "$enums" "event table rows (a row this test cannot parse?)"
  assert_eq "$(table_ids "$EVENTLOG_C" | sort | uniq -d)" "" "duplicate MESSAGE_IDs in the table"
}

t_every_event_type_has_exactly_one_entry() {
  local out
  out=$(check_catalog "$EVENTLOG_C" "$CATALOG") || fail "catalog out of date: $out"
}

# The check is not vacuous: a new event type without an entry, a stale
# entry and a duplicated one each fail it.
t_check_fails_on_missing_stale_and_duplicate_entries() {
  sed 's/^\(\s*\)\[EVENT_BOOT_COUNTED\] = .*/&\n\1[EVENT_NEW_THING] = { "new-thing", "0123456789abcdef0123456789abcdef", LOG_INFO },/' \
    "$EVENTLOG_C" >"$T/eventlog.c"
  grep -q new-thing "$T/eventlog.c" || fail "test setup: no row added"
  check_catalog "$T/eventlog.c" "$CATALOG" >"$T/out" && fail "a new event type without an entry passed"
  grep -q 'new-thing (0123456789abcdef0123456789abcdef): 0 catalog entries' "$T/out" || fail "not named: $(cat "$T/out")"

  { cat "$CATALOG"; printf -- '\n-- fedcba9876543210fedcba9876543210\nSubject: gone\nDefined-By: lastgood\n\nx\n'; } >"$T/stale.catalog"
  check_catalog "$EVENTLOG_C" "$T/stale.catalog" >"$T/out" && fail "a stale entry passed"
  grep -q 'stale catalog entry fedcba9876543210fedcba9876543210' "$T/out" || fail "not named: $(cat "$T/out")"

  local first
  first=$(table_ids "$EVENTLOG_C" | head -1)
  { cat "$CATALOG"; printf -- '\n-- %s\nSubject: again\nDefined-By: lastgood\n\nx\n' "$first"; } >"$T/dup.catalog"
  check_catalog "$EVENTLOG_C" "$T/dup.catalog" >"$T/out" && fail "a duplicate entry passed"
  grep -q "($first): 2 catalog entries" "$T/out" || fail "not named: $(cat "$T/out")"
}

# entry_problems FILE — each entry needs a Subject, Defined-By: lastgood,
# Documentation naming lastgood(8) or lastgood-policy(5), and a body of at
# least two paragraphs (what happened, what to do). Prints what is missing.
entry_problems() {
  awk '
    function done() {
      if (id == "") return
      if (!subj) print id ": no Subject"
      if (!def) print id ": no Defined-By: lastgood"
      if (!doc) print id ": Documentation does not name man:lastgood(8) or man:lastgood-policy(5)"
      if (paras < 2) print id ": body has " paras " paragraph(s); want what happened and what to do"
    }
    /^-- [0-9a-f]+$/ { done(); id = $2; subj = def = doc = paras = 0; inbody = 0; prev_blank = 1; next }
    id == "" { next }
    !inbody && /^Subject: ./ { subj = 1; next }
    !inbody && /^Defined-By: lastgood$/ { def = 1; next }
    !inbody && /^Documentation: .*man:lastgood(-policy)?\([58]\)/ { doc = 1; next }
    !inbody && /^$/ { inbody = 1; prev_blank = 1; next }
    inbody && /^$/ { prev_blank = 1; next }
    inbody { if (prev_blank) paras++; prev_blank = 0 }
    END { done() }
  ' "$1"
}

t_every_entry_is_complete() {
  entry_problems "$CATALOG" >"$T/problems"
  [[ ! -s "$T/problems" ]] || fail "incomplete entries: $(cat "$T/problems")"
  # The check is not a rubber stamp: each missing part is caught.
  printf -- '-- 0123456789abcdef0123456789abcdef\nDocumentation: man:other(1)\n\nonly one paragraph\n' >"$T/bad.catalog"
  entry_problems "$T/bad.catalog" >"$T/problems"
  local what
  for what in 'no Subject' 'no Defined-By' 'Documentation does not name' 'body has 1 paragraph'; do
    grep -q "$what" "$T/problems" || fail "not caught: $what ($(cat "$T/problems"))"
  done
}

# The real journalctl: --update-catalog builds the index from the file in a
# temporary root and --list-catalog shows every event's id with its subject.
t_journalctl_accepts_it() {
  command -v journalctl >/dev/null || { echo "# skip: no journalctl"; return 0; }
  local d=$T/jroot id out
  install -D -m 0644 "$CATALOG" "$d/usr/lib/systemd/catalog/lastgood.catalog"
  out=$(journalctl --root "$d" --update-catalog 2>&1) || fail "journalctl --update-catalog: $out"
  [[ -z $out ]] || fail "journalctl --update-catalog complained: $out"
  assert_file "$d/var/lib/systemd/catalog/database"
  journalctl --root "$d" --list-catalog >"$T/list" 2>&1 || fail "journalctl --list-catalog: $(cat "$T/list")"
  for id in $(table_ids "$EVENTLOG_C"); do
    grep -qE "^$id lastgood: [A-Za-z]" "$T/list" || fail "journalctl does not list $id"
  done
  # …and it is not a rubber stamp: a malformed catalog is refused.
  printf 'text before any id\n' >"$d/usr/lib/systemd/catalog/lastgood.catalog"
  journalctl --root "$d" --update-catalog >/dev/null 2>&1 && fail "journalctl accepted a malformed catalog"
  return 0
}

# make install puts it where journald reads catalogs (PREFIX/lib/systemd/catalog),
# and the Debian package ships it.
t_installed_where_journald_looks() {
  make -C "$TOP" -n install DESTDIR=/nonexistent PREFIX=/usr >"$T/make.out" 2>&1 || fail "make -n install: $(tail -3 "$T/make.out")"
  grep -qE 'install .*dist/systemd/lastgood\.catalog /nonexistent/usr/lib/systemd/catalog/lastgood\.catalog' "$T/make.out" ||
    fail "make install does not install the catalog: $(grep -i catalog "$T/make.out")"
  grep -qE '^dist/systemd/lastgood\.catalog usr/lib/systemd/catalog/?$' "$TOP/debian/lastgood.install" ||
    fail "debian/lastgood.install does not ship the catalog"
}

run_tests
