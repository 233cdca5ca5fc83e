# SPDX-License-Identifier: GPL-2.0-only
# charon's view of the IKE tests' CHILD_SAs, through swanctl: is one up,
# its SPIs, do both ends agree. Source after harness.sh. SWANCTL is the
# command that takes a site and swanctl's options: unset, the lab's
# charons (scripts/lab ike swanctl SITE, LABSH from tests/lib/lab.sh); a
# test of scripts/ike sets SWANCTL=("$IKE" swanctl).

# swan_require NAME: charon-systemd (else SKIP NAME, exit 77), swanctl, pki.
swan_require() {
	[ -x /usr/sbin/charon-systemd ] || { t_skip "$1" "needs charon-systemd (scripts/deps)"; exit 77; }
	t_require swanctl
	t_require pki
}
swan() {
	if [ -n "${SWANCTL+set}" ]; then
		"${SWANCTL[@]}" "$@"
	else
		"$LABSH" ike swanctl "$@"
	fi
}
# child_up SITE: a CHILD_SA is INSTALLED at SITE.
child_up() { swan "$1" --list-sas 2>/dev/null | grep -q INSTALLED; }
both_up() { child_up A && child_up B; }
# spis SITE: "IN OUT", the SPIs of the first CHILD_SA charon lists.
spis() {
	swan "$1" --list-sas 2>/dev/null | awk '
		$1 == "in" && !i { i = $2 } $1 == "out" && !o { o = $2 }
		END { gsub(/,/, "", i); gsub(/,/, "", o); print i, o }'
}
# spis_agree NAME SITE_A SITE_B: PASS NAME/spis_agree when A's inbound SPI
# is B's outbound one and the other way round. Sets SPI_IN SPI_OUT (A's).
spis_agree() {
	local ai ao bi bo
	read -r ai ao < <(spis "$2")
	read -r bi bo < <(spis "$3")
	if [ -n "$ai" ] && [ "$ai" = "$bo" ] && [ "$ao" = "$bi" ]; then
		t_pass "$1/spis_agree"
	else
		t_fail "$1/spis_agree" "A in/out $ai/$ao, B in/out $bi/$bo"
	fi
	SPI_IN=$ai SPI_OUT=$ao
}
