#!/usr/bin/env bash
# Installs what Switchyard's demo and tests need, from the distribution's
# packages, when it is missing: the MariaDB server and client (always), and
# the extra tools a target names (sysbench for tests, haproxy for the bench).
# Without root or apt-get it says exactly what to install and fails.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

have mariadbd || have mysqld || need+=(mariadb-server)
have mariadb || have mysql || need+=(mariadb-client)
for tool in "$@"; do
	case "$tool" in
	sysbench) have sysbench || need+=(sysbench) ;;
	haproxy) have haproxy || need+=(haproxy) ;;
	chromium) have chromium || need+=(chromium) ;;
	*) echo "ensure-deps: unknown tool $tool" >&2; exit 2 ;;
	esac
done

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# policy-rc.d keeps the package from starting a system-wide server: the
	# sandbox runs its own servers on free ports.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	echo "installed: ${need[*]}"
	exit 0
fi

echo "missing: ${need[*]}" >&2
echo "install them with your package manager, for example (as root):" >&2
echo "  apt-get update && apt-get install -y ${need[*]}" >&2
exit 1
