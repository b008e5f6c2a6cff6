# db-url.sh — shared by scripts/backup and scripts/restore (sourced): find the database URL.
# parse_db_args ARGS... sets DB_URL and REST (the remaining arguments).
# Order: --stack DIR (DIR/stack.env), TOLLGATE_DATABASE_URL, database_url in the config file
# (--config FILE, $TOLLGATE_CONFIG, /etc/tollgate/tollgate.conf), tollgate's default
# (postgresql:///tollgate). A named configuration that cannot be read is an error.
# The password of a postgresql:// URL is moved into PGPASSWORD (exported) and DB_URL keeps the rest:
# pg_dump, pg_restore and psql show their arguments in every process list (ps, /proc/PID/cmdline),
# their environment only to the same user. PGCONNECT_TIMEOUT defaults to 10 s, so an unreachable
# server fails instead of hanging.
# shellcheck shell=bash

parse_db_args() {
	local config=${TOLLGATE_CONFIG:-} stack=
	REST=()
	while (($#)); do
		case $1 in
		--config) config=${2:?--config needs a file}; shift 2 ;;
		--config=*) config=${1#--config=}; shift ;;
		--stack) stack=${2:?--stack needs a directory}; shift 2 ;;
		--stack=*) stack=${1#--stack=}; shift ;;
		-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
		*) REST+=("$1"); shift ;;
		esac
	done
	# Only the default file may be missing: a named one that is not there is an error, not a reason
	# to fall back to another database.
	if [[ -n $stack ]]; then
		config=
	elif [[ -z $config ]]; then
		config=/etc/tollgate/tollgate.conf
		[[ -e $config ]] || config=
	elif [[ ! -r $config ]]; then
		echo "${0##*/}: cannot read the configuration $config" >&2
		exit 1
	fi
	DB_URL=
	if [[ -n $stack ]]; then
		[[ -f $stack/stack.env ]] || { echo "${0##*/}: no stack in $stack (no stack.env)" >&2; exit 1; }
		DB_URL=$(bash -c 'source "$1" && printf %s "$TG_DATABASE_URL"' _ "$stack/stack.env")
	elif [[ -n ${TOLLGATE_DATABASE_URL:-} ]]; then
		DB_URL=$TOLLGATE_DATABASE_URL
	elif [[ -n $config ]]; then
		DB_URL=$(sed -n -E 's/^[[:space:]]*database_url[[:space:]]*=[[:space:]]*//p' "$config" | tail -n 1 |
			sed -E 's/[[:space:]]+$//; s/^"(.*)"$/\1/')
	fi
	# tollgate's own default.
	[[ -n $DB_URL ]] || DB_URL=postgresql:///tollgate
	hide_db_password
	export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
}

# postgresql://user:secret@host/db → DB_URL=postgresql://user@host/db, PGPASSWORD=secret (decoded).
hide_db_password() {
	local re='^(postgres(ql)?://[^:/@?#]*):([^@/?#]*)@(.*)$' pw
	[[ $DB_URL =~ $re ]] || return 0
	pw=${BASH_REMATCH[3]}
	DB_URL="${BASH_REMATCH[1]}@${BASH_REMATCH[4]}"
	# Percent-decoding: keep backslashes literal, turn %XX into \xXX for printf %b.
	pw=${pw//\\/\\\\}
	printf -v pw '%b' "${pw//%/\\x}"
	export PGPASSWORD=$pw
}
