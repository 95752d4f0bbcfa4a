# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by guest/interop.sh, whose helpers it uses (rec, wait_for,
# wait_line, alive, start_pcscd ...): uccid's own USB/IP client against the
# kernel's USB/IP server (issue 14).  usbip-host exports QEMU's usb-ccid
# reader through Debian's usbipd on the guest's 127.0.0.1:3240 and the
# host's freshly built uccid imports it with no vhci-hcd:
#   list, info, atr, apdus + dispositions, `uccid test` (suites/qemu-cac.suite);
#   an APDU through a link that delays each direction 1.5 s
#   (tests/vreader/delay-proxy.py);
#   the kernel log while a session sits idle: every CMD_UNLINK of a pending
#   URB costs one "unlinked by a call to usb_unlink_urb()" line (stub_tx.c);
#   usbipd restarted while `uccid watch` holds the reader: the daemon alone,
#   then with the device unbound and bound again, which ends the connection.
# The same idle window with pcscd + libccid through vhci-hcd is recorded as
# the reference (row libccid).  The last phase: it stops the virtual reader
# (usbipd takes its port) and keeps QEMU's reader bound until the end.
# Checks: ROW usbipd, COLUMN uccid (or usbip for the server side).

UNLINK_RE='unlinked by a call to usb_unlink_urb'
IDLE_S=5

unlink_lines() { dmesg | grep -c "$UNLINK_RE"; }
usbip_status() { cat /sys/bus/usb/devices/$BUSID/usbip_status 2>/dev/null; }

usbipd_start() {  # usbipd_start N: Debian's usbipd in the foreground, its log usbipd-N.log; sets ud
	usbipd -4 -d > $O/usbipd-$1.log 2>&1 &
	ud=$!
	wait_line 30 $O/usbipd-$1.log 'listening on' $ud
}
usbipd_stop() {
	[ -n "$ud" ] || return 0
	kill $ud 2>/dev/null
	wait $ud 2>/dev/null
	ud=
}

# usbip-host's state of the device: SDEV_ST_AVAILABLE 1, SDEV_ST_USED 2 (imported)
is_exported() { [ "$(usbip_status)" = 1 ]; }
# the previous client's import has ended: the next one would be refused as busy
released() { wait_for 150 is_exported; }
# the watching session imported the device again and says so, or gave up
imported_or_gone() { { [ "$(usbip_status)" = 2 ] && grep -q 'reader-available' $log.watch.txt; } || ! alive $w; }
# the watch reported the card in the reader again (uccid(1): reader-available, then its cards inserted)
card_back() { sed -n '/reader-available/,$p' $log.watch.txt | grep -q 'inserted'; }

usbipd_phase() {
	row=usbipd
	ud=
	# --- the kernel's server: the virtual reader leaves port 3240 to it ---
	for p in $(usbip port 2>/dev/null | sed -n 's/^Port \([0-9]*\):.*/\1/p'); do usbip detach -p $p > /dev/null; done
	[ -n "$vr" ] && { kill $vr; wait $vr 2>/dev/null; vr=; }
	modprobe usbip-host
	BUSID=$(for d in /sys/bus/usb/devices/*; do
		[ "$(cat $d/idVendor 2>/dev/null):$(cat $d/idProduct 2>/dev/null)" = 08e6:4433 ] && basename $d; done | head -1)
	if [ -z "$BUSID" ]; then
		rec $row usbip bind FAIL "QEMU's reader is not on the bus"
		return
	fi
	if ! usbipd_start 1; then
		rec $row usbip bind FAIL "usbipd did not listen: $(tail -3 $O/usbipd-1.log | tr '\n' ' ')"
		usbipd_stop
		return
	fi
	usbip bind -b $BUSID > $O/usbip-bind.txt 2>&1
	br=$?
	cfg=$(cat /sys/bus/usb/devices/$BUSID/bConfigurationValue 2>/dev/null)
	drv=$(basename "$(readlink /sys/bus/usb/devices/$BUSID/driver)")
	if [ $br = 0 ] && [ "$drv" = usbip-host ] && [ "$(usbip_status)" = 1 ]; then
		rec $row usbip bind ok "usbip bind -b $BUSID: driver $drv, bConfigurationValue ${cfg:-empty (unconfigured)}, usbipd $(usbipd --version 2>&1 | head -1)"
	else
		rec $row usbip bind FAIL "usbip bind -b $BUSID exit $br, driver '$drv', usbip_status '$(usbip_status)': $(cat $O/usbip-bind.txt | tr '\n' ' ')"
		usbipd_stop
		return
	fi
	UR=usbip://127.0.0.1/$BUSID
	log=$O/usbipd

	# --- list, info, atr ---
	timeout 60 "$UCCID" list usbip://127.0.0.1 > $log.list.txt 2>&1
	grep -q -E "^usbip://127\.0\.0\.1:3240/$BUSID +08e6:4433 +CCID reader$" $log.list.txt \
		&& rec $row uccid list ok "uccid list usbip://127.0.0.1: $(grep -F "/$BUSID " $log.list.txt)" \
		|| rec $row uccid list FAIL "uccid list usbip://127.0.0.1: $(head -3 $log.list.txt | tr '\n' ' ')"
	timeout 60 "$UCCID" -r $UR info > $log.info.txt 2>&1
	ir=$?
	first=$(head -1 $log.info.txt)
	[ $ir = 0 ] && echo "$first" | grep -q '(08e6:4433), 1 slot, TPDU level' && grep -q 'dwFeatures' $log.info.txt \
		&& rec $row uccid info ok "uccid -r $UR info: $first" \
		|| rec $row uccid info FAIL "exit $ir: $(head -3 $log.info.txt | tr '\n' ' ')"
	atr=$(timeout 60 "$UCCID" --json -r $UR atr 2> $log.atr.txt | sed -n 's/^{"kind":"atr","title":"ATR","length":[0-9]*,"bytes":"\([0-9A-Fa-f]*\)".*/\1/p' | tr 'a-f' 'A-F')
	[ "$atr" = "$QEMU_ATR" ] && rec $row uccid atr ok "$atr" \
		|| rec $row uccid atr FAIL "uccid atr: '$atr', want '$QEMU_ATR' ($(head -3 $log.atr.txt | tr '\n' ' '))"

	# --- an APDU sequence with LEAVE, RESET, UNPOWER (EJECT latches: near the end) ---
	cat > $log.script <<-EOF
	# CAC applets, the FCI asked for; uccid follows 61xx with GET RESPONSE (T=0)
	00 A4 04 00 07 A0 00 00 00 79 01 00
	lock
	00 A4 04 00 07 A0 00 00 01 16 DB 00
	unlock leave
	lock
	unlock reset
	00 A4 04 00 07 A0 00 00 00 79 03 00
	lock
	unlock unpower
	reset cold
	00 A4 04 00 07 A0 00 00 00 79 01 01
	EOF
	timeout 90 "$UCCID" --trace -r $UR apdu -f $log.script > $log.apdu.txt 2> $log.trace.txt
	ar=$?
	bad=
	[ $ar = 0 ] || bad="exit $ar ($(grep -v -E '^[<>]|^ *(PC_to_RDR|RDR_to_PC|[0-9a-f]{2} )' $log.trace.txt | tail -2 | tr '\n' ' '))"
	c=$(grep -c -E '^< 6F .* 9000 ' $log.apdu.txt)
	[ "$c" -ge 4 ] || bad="$bad only $c of 4 SELECTs answered FCI + 9000"
	grep -q 'RDR_to_PC_DataBlock .*| 61 ' $log.trace.txt && grep -q 'PC_to_RDR_XfrBlock .*| 00 C0 00 00 ' $log.trace.txt \
		|| bad="$bad no 61xx + GET RESPONSE in the trace"
	disp=
	for d in leave reset unpower; do
		grep -q "unlocked ($d)" $log.apdu.txt && disp="$disp $d" || bad="$bad no unlock $d"
	done
	grep -q 'PC_to_RDR_IccPowerOff' $log.trace.txt || bad="$bad no IccPowerOff in the trace"
	[ -z "$bad" ] && rec $row uccid apdus ok "uccid apdu -f: $(grep -c '^>' $log.apdu.txt) APDUs, 4 SELECTs with FCI + 9000, 61xx + GET RESPONSE in the trace" \
		|| rec $row uccid apdus FAIL "$bad"

	# --- a uccid test suite that suits QEMU's reader ---
	timeout 300 "$UCCID" test -r card=$UR --junit $log.junit.xml "$HIL_SRC/suites/qemu-cac.suite" > $log.tap.txt 2>&1
	tr=$?
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' $log.tap.txt)
	oks=$(grep -c '^ok ' $log.tap.txt)
	[ $tr = 0 ] && [ -n "$plan" ] && [ "$oks" = "$plan" ] \
		&& rec $row uccid test ok "uccid test suites/qemu-cac.suite: $oks of $plan tests ok (TAP and JUnit)" \
		|| rec $row uccid test FAIL "exit $tr, $oks of ${plan:-?} ok: $(grep -A3 '^not ok' $log.tap.txt | head -6 | tr '\n' ' ')"

	# --- a slow link: 1.5 s each way between uccid and usbipd ---
	released
	python3 "$HIL_SRC/../vreader/delay-proxy.py" --upstream 127.0.0.1:3240 --delay 1500 > $log.proxy.txt 2> $log.proxy-err.txt &
	px=$!
	if wait_line 30 $log.proxy.txt '^listening on' $px; then
		pp=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' $log.proxy.txt)
		t0=$(now)
		timeout 180 "$UCCID" -v -r usbip://127.0.0.1:$pp/$BUSID apdu 00A4040007A0000000790100 > $log.delay.txt 2> $log.delay-err.txt
		dr=$?
		secs=$(since $t0)
		grep -q -E '^< 6F .* 9000 ' $log.delay.txt \
			&& rec $row uccid delay ok "1.5 s added each way (3 s a round trip): open, power-up with PPS and SELECT + GET RESPONSE answered 9000 in ${secs} s" \
			|| rec $row uccid delay FAIL "1.5 s each way: exit $dr after ${secs} s: $(tail -2 $log.delay-err.txt | tr '\n' ' ')"
	else
		rec $row uccid delay FAIL "delay-proxy.py did not start: $(tail -2 $log.proxy-err.txt | tr '\n' ' ')"
	fi
	kill $px 2>/dev/null; wait $px 2>/dev/null

	# --- EJECT: without a mechanism, powered off and latched; QEMU's card
	#     cannot be taken out, so uccid unlatch ends the latch ---
	released
	printf 'lock\nunlock eject\n' > $log.eject.script
	timeout 60 "$UCCID" -r $UR apdu -f $log.eject.script > $log.eject.txt 2>&1
	timeout 60 "$UCCID" -r $UR atr > $log.eject-atr.txt 2>&1
	er=$?
	timeout 60 "$UCCID" -r $UR unlatch > $log.unlatch.txt 2>&1
	ur=$?
	atr=$(timeout 60 "$UCCID" --json -r $UR atr 2>> $log.unlatch.txt | sed -n 's/^{"kind":"atr","title":"ATR","length":[0-9]*,"bytes":"\([0-9A-Fa-f]*\)".*/\1/p' | tr 'a-f' 'A-F')
	if grep -q 'unlocked (eject): latched' $log.eject.txt && [ $er != 0 ] && grep -q -i 'eject' $log.eject-atr.txt \
		&& [ $ur = 0 ] && [ "$atr" = "$QEMU_ATR" ]; then
		disp="$disp eject"
		rec $row uccid eject ok "unlock eject: latched; the next power-up is refused ($(grep -i 'eject' $log.eject-atr.txt | head -1)); uccid unlatch: $(head -1 $log.unlatch.txt); the card powers up again"
	else
		rec $row uccid eject FAIL "$(tail -1 $log.eject.txt) / atr after it: exit $er $(head -1 $log.eject-atr.txt) / unlatch: exit $ur $(head -1 $log.unlatch.txt) / atr after that: '$atr'"
	fi
	[ "$disp" = " leave reset unpower eject" ] \
		&& rec $row uccid dispositions ok "lock/unlock leave, reset, unpower (apdu script), eject (latched)" \
		|| rec $row uccid dispositions FAIL "only:$disp"

	# --- the reference: pcscd + libccid through vhci-hcd, idle ---
	released
	usbipd_libccid_idle

	# --- a session sitting idle: CMD_UNLINK churn in the kernel log ---
	released
	"$UCCID" -v -r $UR watch > $log.watch.txt 2> $log.watch-err.txt &
	w=$!
	if ! wait_line 60 $log.watch-err.txt 'slot\(s\)' $w; then
		rec $row uccid idle-unlinks FAIL "uccid watch did not open the reader: $(tail -2 $log.watch-err.txt | tr '\n' ' ')"
		rec $row uccid restart FAIL "not run: uccid watch did not open the reader"
		usbipd_stop; usbip unbind -b $BUSID > /dev/null 2>&1
		return
	fi
	u0=$(unlink_lines)
	sleep $IDLE_S   # the idle window itself: nothing to wait for, the kernel log must stay quiet
	u1=$(unlink_lines)
	alive $w && [ $u1 = $u0 ] \
		&& rec $row uccid idle-unlinks ok "$((u1 - u0)) '$UNLINK_RE' lines in ${IDLE_S} s of uccid watch idle ($u0 before, $u1 after)" \
		|| rec $row uccid idle-unlinks FAIL "$((u1 - u0)) '$UNLINK_RE' lines in ${IDLE_S} s of uccid watch idle ($u0 before, $u1 after)$(alive $w || echo '; uccid watch exited')"

	# --- usbipd restarted under the watching session ---
	# 1. the daemon alone: usbip-host holds the imported connection, usbipd
	#    only hands it over; the session must not notice
	usbipd_stop
	usbipd_start 2
	st=$(usbip_status)
	if alive $w && [ "$st" = 2 ] && ! grep -q 'reader-removed' $log.watch.txt; then
		rec $row usbip restart-daemon ok "usbipd killed and started again: the import stays (usbip_status 2, usbip-host holds the socket), uccid watch runs on"
	else
		rec $row usbip restart-daemon FAIL "usbip_status '$st', uccid watch $(alive $w && echo runs || echo exited): $(tail -2 $log.watch-err.txt | tr '\n' ' ')"
	fi
	# 2. a server restart that re-exports the device (a reboot, a service
	#    that binds at start): unbind ends the connection; the session rides
	#    through if it imports the device again once it is bound
	usbipd_stop
	t0=$(now)
	usbip unbind -b $BUSID > /dev/null 2>&1
	usbipd_start 3
	usbip bind -b $BUSID > /dev/null 2>&1
	wait_for 600 imported_or_gone
	back=$(since $t0)
	st=$(usbip_status)
	if alive $w && [ "$st" = 2 ]; then
		# the card: QEMU's card never left; the watch must say it is there again
		t1=$(now)
		wait_for 50 card_back
		card=$(since $t1)
		kill -INT $w; wait $w; wr=$?
		[ $wr = 0 ] && ! grep -q 'reader-removed' $log.watch.txt && grep -q 'reader-available' $log.watch.txt \
			&& rec $row uccid restart ok "usbipd restarted with unbind/bind: uccid watch imported the device again ${back} s after the unbind and ran on (exit 0 on SIGINT); its events: $(tr '\n' ' ' < $log.watch.txt)" \
			|| rec $row uccid restart FAIL "uccid watch imported the device again ${back} s after the unbind; exit $wr on SIGINT, its events: $(tr '\n' ' ' < $log.watch.txt)(want reader-available, no reader-removed, exit 0) $(tail -1 $log.watch-err.txt)"
		relink=$(grep -o 'reader back after .*' $log.watch-err.txt | tail -1)
		card_back \
			&& rec $row uccid restart-card ok "the watch reported the card inserted again ${card} s after reader-available (the session asks each slot once the link is back: QEMU's reader sends no NotifySlotChange after a re-import); the session: ${relink:-?}" \
			|| rec $row uccid restart-card FAIL "no 'inserted' within ${card} s of reader-available: the watch's last word on QEMU's card, which never left, is 'removed' (uccid(1): once imported again its cards are reported inserted); the session: ${relink:-?}"
	else
		wait $w; wr=$?
		rec $row uccid restart FAIL "usbipd restarted with unbind/bind: uccid watch exited $wr ${back} s after the unbind, the device not imported again (usbip_status '$st'): $(grep -v 'slot(s)' $log.watch-err.txt | tail -1) [watch: $(tr '\n' ' ' < $log.watch.txt)]"
		rec $row uccid restart-card FAIL "not run: the watch did not ride through"
	fi
	alive $w && { kill $w; wait $w 2>/dev/null; }
	usbipd_stop
	usbip unbind -b $BUSID > /dev/null 2>&1
	dmesg > $O/usbipd-dmesg.txt
}

# pcscd + libccid on QEMU's reader imported through vhci-hcd from the same
# usbipd: the kernel log over the same idle window, for comparison.
usbipd_libccid_idle() {
	if ! until_s 10 usbip attach -r 127.0.0.1 -b $BUSID; then
		rec libccid usbipd idle-unlinks n/a "usbip attach -b $BUSID failed: not measured"
		return
	fi
	wait_for 100 sh -c '[ "$(lsusb -d 08e6:4433 | wc -l)" -ge 2 ]'
	start_pcscd libccid 1 libccid-vhci
	# the reader is up when pcscd answers for its card
	until_s 30 sh -c 'timeout 10 opensc-tool -a | grep -q "3b:7a"'
	u0=$(unlink_lines)
	sleep $IDLE_S   # the same idle window
	u1=$(unlink_lines)
	rec libccid usbipd idle-unlinks ok "$((u1 - u0)) '$UNLINK_RE' lines in ${IDLE_S} s of pcscd + libccid idle on the reader imported through vhci-hcd ($u0 before, $u1 after)"
	stop_pcscd
	for p in $(usbip port 2>/dev/null | sed -n 's/^Port \([0-9]*\):.*/\1/p'); do usbip detach -p $p > /dev/null; done
}
