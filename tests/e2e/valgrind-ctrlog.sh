#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Stands in for the ctrlog binary in end-to-end tests, running it under valgrind memcheck: any
# memory error or definite leak turns into exit status 99, which no test expects.
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--show-leak-kinds=definite,indirect "$CTRLOG_REAL" "$@"
