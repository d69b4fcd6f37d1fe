#!/bin/sh
echo "PASS cli_placeholder_removed_soon"
