# db-url.sh — shared by scripts/backup and scripts/restore (sourced): find the database URL.
# parse_db_args ARGS... sets DB_URL and REST (the remaining arguments).
# Order: --stack DIR (DIR/stack.env), TOLLGATE_DATABASE_URL, database_url in the config file
# (--config FILE, $TOLLGATE_CONFIG, /etc/tollgate/tollgate.conf), libpq's default.
# shellcheck shell=bash

parse_db_args() {
	local config=${TOLLGATE_CONFIG:-/etc/tollgate/tollgate.conf} stack=
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
	DB_URL=
	if [[ -n $stack ]]; then
		[[ -f $stack/stack.env ]] || { echo "${0##*/}: no stack in $stack (no stack.env)" >&2; exit 1; }
		DB_URL=$(bash -c 'source "$1" && printf %s "$TG_DATABASE_URL"' _ "$stack/stack.env")
	elif [[ -n ${TOLLGATE_DATABASE_URL:-} ]]; then
		DB_URL=$TOLLGATE_DATABASE_URL
	elif [[ -r $config ]]; then
		DB_URL=$(sed -n -E 's/^[[:space:]]*database_url[[:space:]]*=[[:space:]]*//p' "$config" | tail -n 1 |
			sed -E 's/[[:space:]]+$//; s/^"(.*)"$/\1/')
	fi
	# tollgate's own default.
	[[ -n $DB_URL ]] || DB_URL=postgresql:///tollgate
}
