# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by guest/interop.sh, whose helpers it uses (rec, wait_for,
# wait_line, alive, start_pcscd, bus_of, name_of ...): pcscd's libudev
# hotplug with uccid's bundle as make install lays it out (issue 16).
# pcscd runs first; then one virtual reader (the short-apdu profile) is
# plugged in with `usbip attach` through vhci-hcd, used by a PC/SC client
# (pcsc-session --hotplug), pulled out with `usbip detach` while the client
# holds a connection, and plugged in again.  pcscd hears of devices that
# arrive after its start only through udevd's broadcasts: systemd-udevd
# runs for this phase.  pcscd must stay up throughout.  The same sequence
# with libccid follows, as the reference.  While the device leaves, udevd
# holds its events back, so that the client's next command on the held
# connection meets the driver, with pcscd still listing the reader.
# Checks: ROW hotplug, COLUMN bundle; libccid's: ROW libccid, COLUMN hotplug.

HOTPLUG_PROFILE=short-apdu
HOTPLUG_FIFO=/run/hotplug.fifo

vhci_port_of() {  # vhci_port_of BUSID: the vhci-hcd port the vreader's BUSID is attached on
	usbip port 2>/dev/null | awk -v b="$1" '
		/^Port [0-9]+:/ { p = $2; sub(":", "", p); p += 0 }
		$NF ~ ("/" b "$") { print p; exit }'
}
not_attached() { [ -z "$(vhci_port_of $1)" ]; }
vreaders_on_bus() { [ "$(lsusb -d 1209:0001 | wc -l)" -eq $1 ]; }
client_line() {  # client_line ERE: the client printed it, or exited
	grep -q -E -- "$1" $hc || ! alive $cl
}
client_fails() {  # client_fails FROM TO: the client's FAIL lines between two lines (sed BREs)
	sed -n "/$1/,/$2/p" $hc | grep -E '^FAIL' | head -3 | tr '\n' ' '
}

hotplug_phase() {
	b=$(bus_of $HOTPLUG_PROFILE)
	# the reader leaves before pcscd starts
	p=$(vhci_port_of $b)
	[ -n "$p" ] && usbip detach -p $p > /dev/null
	if ! wait_for 100 not_attached $b; then
		rec hotplug bundle appear FAIL "usbip detach of $b (port '$p') did not take"
		return
	fi
	/lib/systemd/systemd-udevd --daemon > $O/hotplug-udevd.txt 2>&1
	if ! wait_for 100 test -S /run/udev/control; then
		rec hotplug bundle appear FAIL "systemd-udevd did not start: $(tail -2 $O/hotplug-udevd.txt | tr '\n' ' ')"
		return
	fi
	hotplug_run bundle hotplug bundle
	not_attached $b || { usbip detach -p $(vhci_port_of $b) > /dev/null; wait_for 100 not_attached $b; }
	hotplug_run libccid libccid hotplug
	udevadm control --exit
	not_attached $b && until_s 10 usbip attach -r 127.0.0.1 -b $b
}

hotplug_run() {  # hotplug_run libccid|bundle ROW COLUMN (the reader not attached, udevd running)
	drv=$1 row=$2 col=$3
	name=$(name_of $HOTPLUG_PROFILE)
	LIBCCID_LOG=$O/pcscd-hotplug-libccid.log     # rec's evidence for libccid
	hc=$O/hotplug-$drv-client.txt
	start_pcscd $drv $((NPCSC - 1 + qemu)) hotplug-$drv
	pcscd_pid=$pc
	rm -f $HOTPLUG_FIFO
	mkfifo $HOTPLUG_FIFO
	"$PCSC_SESSION" --hotplug --name "$name" --wait-ms 120000 < $HOTPLUG_FIFO > $hc 2>&1 &
	cl=$!
	exec 7> $HOTPLUG_FIFO
	if ! wait_line 60 $hc '^waiting for the reader$' $cl; then
		rec $row $col appear FAIL "the client did not start: $(tail -3 $hc | tr '\n' ' ')"
		exec 7>&-
		kill $cl 2>/dev/null; wait $cl 2>/dev/null; stop_pcscd
		return
	fi

	# --- plugged in while pcscd runs ---
	t0=$(now)
	until_s 10 usbip attach -r 127.0.0.1 -b $b || echo "usbip attach $b failed"
	wait_for 1500 client_line '^holding the connection$'
	ap=$(sed -n "s/^ok: appeared: \(.*\) after \([0-9]*\) ms$/\2 ms after the client's wait began, as '\1'/p" $hc)
	[ -n "$ap" ] && rec $row $col appear ok "usbip attach $b while pcscd runs: listed $ap; $(since $t0) s from the attach to the card session done" \
		|| rec $row $col appear FAIL "not listed: $(grep -E '^(FAIL|error)' $hc | head -2 | tr '\n' ' ')"
	if grep -q '^holding the connection$' $hc; then
		rec $row $col works ok "SCardConnect, SELECT 9000, ECHO of 16 bytes right"
	else
		rec $row $col works FAIL "$(grep -E '^(FAIL|error)' $hc | head -3 | tr '\n' ' ')"
	fi

	# --- pulled out while the client holds a connection ---
	if alive $cl && grep -q '^holding the connection$' $hc; then
		p=$(vhci_port_of $b)
		# udevd holds its events back while the device leaves: pcscd still lists
		# the reader, so the held connection's next command meets the driver and
		# a gone device, not a race with pcscd's removal of the reader
		udevadm control --stop-exec-queue
		usbip detach -p $p > $O/hotplug-$drv-detach.txt 2>&1 || echo "usbip detach -p $p failed: $(cat $O/hotplug-$drv-detach.txt)"
		wait_for 100 vreaders_on_bus $((NVR - 1))   # every virtual reader but this one
		echo detached >&7
		wait_line 120 $hc '^error: SCardTransmit on the held connection' $cl
		udevadm control --start-exec-queue
		t0=$(now)
		wait_for 1500 client_line '^waiting for it to come back$'
		held=$(sed -n 's/^error: SCardTransmit on the held connection, right after the detach: //p' $hc)
		later=$(sed -n 's/^info: //p' $hc | tr '\n' ';' | sed 's/;$//; s/;/; /g')
		if grep -q '^ok: the held connection fails cleanly' $hc; then
			rec $row $col held ok "SCardTransmit on the held connection right after the detach: $held; later: $later"
		else
			rec $row $col held FAIL "SCardTransmit on the held connection right after the detach: ${held:-not reached} (want SCARD_E_NO_SMARTCARD, SCARD_W_REMOVED_CARD or SCARD_E_READER_UNAVAILABLE); later: $later"
		fi
		gone=$(sed -n 's/^ok: gone from SCardListReaders after \([0-9]*\) ms$/\1/p' $hc)
		[ -n "$gone" ] && rec $row $col gone ok "usbip detach: the reader left SCardListReaders $(since $t0) s after udevd passed the removal on" \
			|| rec $row $col gone FAIL "still listed: $(grep -E '^(FAIL|error)' $hc | tail -2 | tr '\n' ' ')"
	else
		rec $row $col held FAIL "not run: the client ended before the detach"
		rec $row $col gone FAIL "not run: the client ended before the detach"
	fi
	exec 7>&-

	# --- plugged in again ---
	if alive $cl && grep -q '^waiting for it to come back$' $hc; then
		t0=$(now)
		until_s 10 usbip attach -r 127.0.0.1 -b $b || echo "usbip attach $b failed"
		wait_line 150 $hc '^[0-9]+ passed, [0-9]+ failed$' $cl || kill $cl 2>/dev/null
		wait $cl
		bk=$(sed -n "s/^ok: back: \(.*\) after \([0-9]*\) ms$/\2 ms after the client's wait began, as '\1'/p" $hc)
		bad=$(client_fails '^waiting for it to come back$' '^[0-9][0-9]* passed')
		[ -n "$bk" ] && [ -z "$bad" ] && grep -q '^ok: second plug: SCardConnect' $hc \
			&& rec $row $col back ok "usbip attach again: listed $bk; $(since $t0) s from the attach to SELECT 9000 and ECHO on a new connection" \
			|| rec $row $col back FAIL "${bk:-not listed again}: $bad"
	else
		rec $row $col back FAIL "not run: the client ended before"
		kill $cl 2>/dev/null; wait $cl 2>/dev/null
		not_attached $b && until_s 10 usbip attach -r 127.0.0.1 -b $b
	fi

	# --- pcscd throughout ---
	n=$(timeout 10 opensc-tool -l 2>/dev/null | grep -c -F -- "$name")
	if [ "$pc" = "$pcscd_pid" ] && alive $pc && [ "$n" = 1 ]; then
		rec $row $col pcscd ok "pcscd (pid $pc) ran throughout and lists the reader once after it came back"
	else
		rec $row $col pcscd FAIL "pcscd $(alive $pc && echo "runs" || echo "DIED: $(tail -3 $O/pcscd-hotplug-$drv.log | tr '\n' ' ')"), lists the reader $n times"
	fi
	stop_pcscd
	rm -f $HOTPLUG_FIFO
	LIBCCID_LOG=
}
