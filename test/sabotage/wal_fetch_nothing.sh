#!/usr/bin/env bash
# Lies: a restore_command that finds nothing, as a misconfigured one does:
# replay ends at the base backup and every write after it is lost.
exit 1
