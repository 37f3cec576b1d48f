#!/usr/bin/env bash
# Installs what Frontdesk's tests need on Debian, as root: the MariaDB server
# and client, redis-server (the rate limiter's distributed mode), and the
# load tools and client libraries that the integration tests and benchmarks
# drive (PyMySQL for Debian's /usr/bin/python3), and headless Chromium for the
# dashboard's browser tests. Fails,
# never skips, when something is missing and cannot be installed.
set -euo pipefail

packages=(python3 mariadb-server mariadb-client sysbench python3-pymysql wrk haproxy redis-server chromium)
commands=(mariadbd mariadb-install-db mariadb sysbench wrk haproxy redis-server chromium)

missing=()
for c in "${commands[@]}"; do
	command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || missing+=("$c")
done
/usr/bin/python3 -c 'import pymysql' >/dev/null 2>&1 || missing+=(pymysql)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "test-deps: missing ${missing[*]}; installing ${packages[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
	echo "test-deps: need root and apt-get to install ${packages[*]}; install them and rerun" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# The Debian packages may start a system MariaDB and Redis; the tests start their own.
if command -v service >/dev/null 2>&1; then
	service mariadb stop >/dev/null 2>&1 || true
	service redis-server stop >/dev/null 2>&1 || true
fi
for c in "${commands[@]}"; do
	command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || { echo "test-deps: $c still missing after install" >&2; exit 1; }
done
/usr/bin/python3 -c 'import pymysql' || { echo "test-deps: python3-pymysql still missing after install" >&2; exit 1; }
