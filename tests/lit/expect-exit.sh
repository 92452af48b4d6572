#!/usr/bin/env bash
# expect-exit CODE COMMAND...: runs COMMAND, passing its output through, and
# succeeds only if it exits with exactly CODE (so a crash, which exits with
# 128+signal, or a wrong code fails the test).
want=$1
shift
"$@"
got=$?
if [ "$got" -ne "$want" ]; then
  echo "expect-exit: expected exit code $want, got $got from: $*" >&2
  exit 1
fi
