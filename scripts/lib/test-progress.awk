# Keeps `dotnet test --logger "console;verbosity=normal"` readable for scripts/test.sh: one line per finished test as it
# finishes, each failure with its details, each test assembly's summary in the form the minimal verbosity prints it
# ("Passed!  - Failed: 0, Passed: 540, ..."), then a recap of the failures (CI may show only the tail) and a closing
# total. Normal verbosity is what prints a line per test, but it also forwards everything the test host writes: the
# in-memory services' logs (lines that begin "[hh:mm:ss LVL]", a logged exception's stack after them) and the xUnit
# adapter's chatter. Those are dropped here.
# POSIX awk (mawk, gawk, BSD awk): no interval expressions.

function out(line) {
    print line
    fflush()
}

function duration(text,    parts, seconds, whole, minutes) {
    split(text, parts, " ")
    seconds = parts[1] * (parts[2] ~ /^Day/ ? 86400 : parts[2] ~ /^Hour/ ? 3600 : parts[2] ~ /^Minute/ ? 60 : 1)
    whole = int(seconds + 0.5)
    if (whole >= 3600) return sprintf("%d h %d m", int(whole / 3600), int((whole % 3600) / 60))
    minutes = int(whole / 60)
    if (minutes > 0) return (whole % 60 > 0) ? sprintf("%d m %d s", minutes, whole % 60) : sprintf("%d m", minutes)
    if (whole > 0) return sprintf("%d s", whole)
    return (int(seconds * 1000) > 0) ? sprintf("%d ms", int(seconds * 1000)) : "< 1 ms"
}

# Test assemblies run side by side, so one's summary may come between another's test lines: the summary is read by
# its own lines, whatever comes between them, and named after its assembly only when one assembly ran.
BEGIN { state = ""; runs = 0; started = 0; summary = 0 }

# A service's log line: dropped, with what follows it (a stack) until the next line this script knows. Inside a
# failure's details only the log line itself goes, so nothing of the failure is lost.
/^\[[0-9][0-9]:[0-9][0-9]:[0-9][0-9] [A-Z][A-Z][A-Z]\] / {
    if (state != "failed") state = "log"
    next
}

# xUnit's own lines are chatter, but for a failure outside any test (a fixture's set-up or clean-up), which is shown
# with the deeper-indented lines of its details.
/^\[xUnit\.net / {
    if ($0 ~ /Failure|\[ERROR\]/) { xfail = 1; out($0) }
    else if (xfail && $0 ~ /^\[xUnit\.net [0-9:.]+\]       /) out($0)
    else xfail = 0
    state = ""
    next
}

/^  (Passed|Failed|Skipped) / {
    state = ($1 == "Failed") ? "failed" : ""
    if (state == "failed") { failures++; recap[failures] = $0; recap_lines[failures] = 0 }
    out($0)
    next
}

/^Test run for / {
    state = ""
    source = $4
    sub(/.*\//, "", source)
    framework = ""
    if (match($0, /Version=v[0-9.]+/)) framework = "net" substr($0, RSTART + 9, RLENGTH - 9)
    started++
    out($0)
    next
}

/^A total of [0-9]+ test files? matched/ { next }

/^Test Run (Successful|Failed|Aborted)/ {
    state = ""
    summary = 1
    runfailed = ($3 ~ /^Failed/)
    total = 0; passed = 0; failed = 0; skipped = 0
    if ($3 ~ /^Aborted/) out($0)
    next
}

summary && /^Total tests: [0-9]+$/ { total = $3; next }
summary && /^ +Passed: [0-9]+$/ { passed = $2; next }
summary && /^ +Failed: [0-9]+$/ { failed = $2; next }
summary && /^ +Skipped: [0-9]+$/ { skipped = $2; next }
summary && /^ *Total time:/ {
    sub(/^ *Total time: */, "")
    result = failed > 0 || runfailed ? "Failed!" : passed > 0 ? "Passed!" : skipped > 0 ? "Skipped!" : "None"
    out(sprintf("%-8s - Failed: %5d, Passed: %5d, Skipped: %5d, Total: %5d, Duration: %s%s",
        result, failed, passed, skipped, total, duration($0), started == 1 ? " - " source " (" framework ")" : ""))
    runs++; all_passed += passed; all_failed += failed; all_skipped += skipped
    if (runfailed && failed == 0) failed_outside++
    summary = 0
    next
}

state == "log" { next }
/^[ \t]*$/ && state != "failed" { next }
# A failure's first lines are kept for the recap at the end, where a reader who sees only the tail (CI) finds them.
state == "failed" && recap_lines[failures] < 12 && $0 !~ /^[ \t]*$/ {
    recap_lines[failures]++
    recap[failures] = recap[failures] "\n" $0
}
{ out($0) }

# The plain closing line a reader (or CI) can count on, over every test assembly that ran.
END {
    if (failures > 0) {
        out("")
        out("Failed tests (" failures "), each with the start of its details (all of it is above):")
        for (i = 1; i <= failures; i++) out(recap[i])
        out("")
    }
    if (failed_outside > 0) out("A test run failed outside any test: a fixture's set-up or clean-up (its failure is above).")
    if (runs > 0) out(sprintf("Tests: %d passed, %d failed, %d skipped", all_passed, all_failed, all_skipped))
}
