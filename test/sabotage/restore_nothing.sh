#!/usr/bin/env bash
# Lies: says it restored, restores nothing.
echo "Restore completed successfully"
